// Public API of the label stage.
/** Drafts captions: `await autoLabel({inputDir, outputCsv, shouldOverwrite: false, isDryRun: false, triggerWord: 'jiangnan_style'})`. */
export {
  autoLabel,
  ruleCaptioner,
  type AutoLabelOptions,
  type AutoLabelResult,
  type Captioner,
  type CaptionTarget,
  type ImageToCaption,
} from './auto-label.js';
/** A model captioner for `autoLabel`: `captioner: modelCaptioner({model: modelSource('models/blip', cwd), batchSize: 8, …})`. */
export {
  modelCaptioner,
  modelSource,
  FLORENCE_CAPTION_TASKS,
  MODEL_HINT,
  type ModelCaptionerOptions,
} from './model-captioner.js';
export { ruleCaption, colourName, folderWords, type ImageFacts } from './rule-caption.js';
export { styledCaption, type CaptionStyle } from './caption-style.js';
