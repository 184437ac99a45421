// Public API of the demo stage: sample style scenes (pure) and the folder writer behind `lora-scripts demo-data`.
/** Draws one scene: `drawScene('jiangnan', 7, 64)` → `{ svg, caption, facts }`; same seed, same picture. */
export { drawScene, type Scene } from './scenes.js';
export { sceneCaption, type SceneFacts } from './scene-caption.js';
/** The style table; `parseStyleNames('all')` lists every style, `generic` is the one without a regional look. */
export { STYLE_NAMES, STYLES, parseStyleNames, type StyleName, type TimeOfDay, type Weather } from './styles.js';
export { createRng, sceneSeed, seededRandom, type Rng } from './seeded-random.js';
/** Image statistics that tell the styles apart: `nearestCentroid(centroids, colourSignature(rgb, 3, 64))`. */
export { colourSignature, centroid, distance, nearestCentroid } from './colour-signature.js';
/** `await writeSampleDataset({ dir: 'data/demo', styles: ['jiangnan'], count: 12, seed: 0, sizePx: 64 })` */
export {
  writeSampleDataset,
  checkSampleOptions,
  isSampleFileName,
  sampleFileName,
  type SampleDatasetOptions,
} from './write-sample-dataset.js';
