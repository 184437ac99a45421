// Public API of the dataset stage.
/** Reads and checks a dataset folder: `await readDataset({dataDir, metadataPath, captionExtension: '.txt'})`. */
export { readDataset, listImageFiles, type MeasuredItem, type ReadDatasetOptions } from './read.js';
/** Writes the engine's input list: `writeManifest('out/manifest.jsonl', items)`. */
export { writeManifest, manifestText, type ManifestLine } from './manifest.js';
/** kohya metadata helpers: `tagFrequency(items)`, `datasetDirs(items)`. */
export { tagFrequency, datasetDirs, type DatasetItem } from './scan.js';
/** `metadata.csv` both ways: `parseMetadataCsv(text)` and `metadataCsvText([{fileName, caption}])`. */
export { parseMetadataCsv, metadataCsvText, captionFileFor } from './captions.js';
/** Near-duplicate detection: `hashDistance(await readPerceptualHash(a), await readPerceptualHash(b)) <= 6`. */
export { perceptualHash, hashDistance, HASH_INPUT_SIZE } from './perceptual-hash.js';
export { readPerceptualHash } from './read.js';
