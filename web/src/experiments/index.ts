// The experiments pages' pure side: the new-experiment form, a counts CSV template, numbers and the verdict in words.
export {
  type ArmRow,
  countsCsvTemplate,
  EMPTY_ARM,
  type ExperimentForm,
  experimentBody,
  STARTING_FORM,
} from './arms.js';
export { formatInterval, formatLift, formatPercent, formatPValue } from './format.js';
export { decidingP, type VerdictMessage, verdictMessage } from './verdict.js';
