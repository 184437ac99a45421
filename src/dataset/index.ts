// Public API of the dataset stage.
/** Reads and checks a dataset folder: `await readDataset({dataDir, metadataPath, captionExtension: '.txt'})`. */
export { readDataset, type MeasuredItem, type ReadDatasetOptions } from './read.js';
/** Writes the engine's input list: `writeManifest('out/manifest.jsonl', items)`. */
export { writeManifest, manifestText, type ManifestLine } from './manifest.js';
/** kohya metadata helpers: `tagFrequency(items)`, `datasetDirs(items)`. */
export { tagFrequency, datasetDirs, type DatasetItem } from './scan.js';
export { parseMetadataCsv, captionFileFor } from './captions.js';
