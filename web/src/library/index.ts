// The style library and regions pages' pure side: version buttons, word lists, lineage, rule forms, place queries.
export {
  lineageSummary,
  type LineageSummary,
  newestFirst,
  promotedOf,
  splitWords,
  versionActions,
} from './versions.js';
export {
  EMPTY_RULE,
  inFallbackOrder,
  isoToLocalInput,
  localInputToIso,
  localOffsetMinutes,
  PLACE_LEVELS,
  type PlaceQuery,
  resolvePath,
  ruleBody,
  type RuleForm,
  ruleForm,
} from './regions.js';
