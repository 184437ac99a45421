// Public API of the generate stage.
/** `await renderStrengths({baseModel, lora, prompts, seeds: [0], strengths: [0, 0.7], …})` → one PNG per cell. */
export { renderStrengths, type RenderStrengthsOptions, type RenderedImage } from './render-strengths.js';
/** `await writeStrengthGrid(images, 'grid.png', 128)`: a column per strength, a row per prompt and seed. */
export { writeStrengthGrid } from './grid.js';
/** `await runGeneration({prompt: 'canal town, <lora:jiangnan_style:0.7>', loraDirs: ['output'], …})` → PNGs with WebUI parameters. */
export {
  runGeneration,
  type GenerateOptions,
  type GenerationResult,
  type GeneratedImage,
  type LoraFileReference,
} from './run.js';
/** `parsePrompt('town, <lora:x:0.5:1>')` → `{text: 'town', loras: [{name: 'x', teWeight: 0.5, unetWeight: 1}], warnings: []}`. */
export { parsePrompt, parseNegativePrompt, type ParsedPrompt, type LoraReference } from './prompt.js';
/** WebUI infotext ⇄ settings, and the PNG text chunk that holds it. */
export {
  buildParametersText,
  parseParametersText,
  readPngText,
  withPngText,
  PARAMETERS_KEY,
  type GenerationParameters,
  type LoraHash,
} from './png-parameters.js';
/** `chooseScheduler('DPM++ 2M Karras')` → the diffusers scheduler class and settings. */
export { chooseScheduler, SAMPLER_NAMES, SCHEDULE_TYPES, type SchedulerChoice } from './samplers.js';
/** `findLora('jiangnan_style', ['output'], '--prompt')`: WebUI's name lookup over a list of folders. */
export { findLora, listLoraFiles, readLoraTrainingFacts, loraShortHash, baseModelSha256 } from './lora-files.js';
export { pickLora, type LoraCandidate } from './lora-names.js';
export { imageFileNames } from './plan.js';
/** `await engineLoraFile('out/x.safetensors', stagingDir, 0)`: the file itself, or a kohya LoHa/DoRA's peft copy for the engine. */
export { engineLoraFile } from './lycoris-for-engine.js';
/** `samplingSettings('dev', {steps: null, cfgScale: null})` → `{steps: 28, cfgScale: 3.5}`: the defaults by family. */
export { samplingDefaults, samplingSettings, type SamplingDefaults } from './sampling-defaults.js';
/** Flux's own sampler name, and the one-line refusal of a Flux transformer file without its components. */
export { FLUX_SAMPLER, refuseFluxTransformerFile } from './flux-generate.js';
