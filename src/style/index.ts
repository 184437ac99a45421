// Public API of the style stage: how much images look like a sample style (0–1), for the demo, tests and diagnostics.
/** `styleScore(await buildReferenceClassifier(), 'jiangnan', [await featuresOfImage('a.png')])` → 0.93 */
export {
  buildReferenceClassifier,
  featuresOfImage,
  OTHER_STYLES,
  SCORE_SIZE_PX,
  type ReferenceOptions,
} from './read.js';
export {
  styleScore,
  styleProbabilities,
  trainStyleClassifier,
  type StyleClassifier,
  type LabelledFeatures,
} from './classifier.js';
export { styleFeatures, type RgbImage } from './features.js';
