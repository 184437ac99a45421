// Public API of the label stage.
/** Drafts captions: `await autoLabel({inputDir, outputCsv, shouldOverwrite: false, isDryRun: false, triggerWord: 'jiangnan_style'})`. */
export { autoLabel, type AutoLabelOptions, type AutoLabelResult } from './auto-label.js';
export { ruleCaption, colourName, folderWords, type ImageFacts } from './rule-caption.js';
