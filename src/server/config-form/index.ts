// Public API of the config form: the schema as fields, every problem of a config, the pre-flight, YAML both ways.
/** `formFields()` → one field per config key, in schema order, with its default, help, bounds and `auto`. */
export { FIELD_TYPES, formFieldOf, formFields, type FieldType, type FormField } from './form-fields.js';
/** `checkConfigValues({lora_rnak: 8})` → every problem `train --config` would name, one at a time. */
export { checkConfigValues, type ConfigCheck, type ConfigProblem } from './config-problems.js';
/** `configToYaml(config)` → `{yaml}` with comments; `yamlToConfig(text)` → `{config}` or the problem and its line. */
export { configToYaml, yamlToConfig, type YamlExport, type YamlImport, type YamlProblem } from './config-yaml.js';
/** `await preflightConfig(config, {workspace, detectDevice: engineDeviceDetector(env)})` → problems, `auto`, estimate. */
export { preflightConfig, type AutoValue, type PreflightReport, type RunEstimate } from './preflight.js';
export { engineDeviceDetector, type DetectDevice, type DeviceAnswer } from './device.js';
export {
  countTrainingSteps,
  estimateMemoryMiB,
  estimateSeconds,
  medianStepMs,
  picturesPerSize,
  type StepTimeBasis,
  type StepTimeSetup,
} from './estimate.js';
/** `await findStepTimeBasis(setup, {store, workspace, nativeSizePx})` → the newest past run with the same setup. */
export { findStepTimeBasis } from './step-time-basis.js';
export {
  configBodySchema,
  configFormSchema,
  configProblemSchema,
  configYamlSchema,
  formFieldSchema,
  parsedConfigSchema,
  parseYamlBodySchema,
  preflightReportSchema,
} from './api-schemas.js';
