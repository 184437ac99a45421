// Public API of the dataset stage.
/** Reads and checks a dataset folder: `await readDataset({dataDir, metadataPath, captionExtension: '.txt'})`. */
export { readDataset, listImageFiles, type MeasuredItem, type ReadDatasetOptions } from './read.js';
/** Writes the engine's input list: `writeManifest('out/manifest.jsonl', items)`. */
export { writeManifest, manifestText, type ManifestLine, type ManifestExtra } from './manifest.js';
/** kohya metadata helpers: `tagFrequency(items)`, `datasetDirs(items)`. */
export { tagFrequency, datasetDirs, type DatasetItem } from './scan.js';
/** `metadata.csv` both ways: `parseMetadataCsv(text)` and `metadataCsvText([{fileName, caption}])`. */
export { parseMetadataCsv, metadataCsvText, captionFileFor } from './captions.js';
/** Near-duplicate detection: `hashDistance(await readPerceptualHash(a), await readPerceptualHash(b)) <= DEFAULT_THRESHOLDS.duplicateDistance`. */
export { perceptualHash, hashDistance, HASH_INPUT_SIZE } from './perceptual-hash.js';
export { readPerceptualHash } from './read.js';
/**
 * `prepare`: `await prepareDataset({ inputDir, outDir, targetPx: 768, crop: 'center', useBuckets: false, … })` checks every
 * picture and caption and writes the prepared copy plus `prepare-report.json` / `.html`.
 */
export {
  prepareDataset,
  strictFailureOf,
  REPORT_JSON,
  REPORT_HTML,
  type PrepareOptions,
  type PrepareResult,
  type CropPosition,
} from './prepare.js';
export { prepareReportSchema, reportTable, PREPARE_REPORT_VERSION, type PrepareReport } from './prepare-report.js';
/** The rules and their thresholds: `checkImages(records, { thresholds: DEFAULT_THRESHOLDS, … })` → findings. */
export { checkImages, excludedImages, RULE_SUMMARIES } from './check.js';
export {
  DEFAULT_THRESHOLDS,
  ANALYSIS_SIDE_PX,
  type Finding,
  type Severity,
  type QualityThresholds,
  type ImageRecord,
  type CaptionRecord,
} from './findings.js';
/** Before `train`: `checkTrainingDataset(items, { dataDir, resolutionPx: 512, tokenizerDir })` → warning block or null. */
export { checkTrainingDataset, trainingFindings } from './train-check.js';
/** Aspect-ratio buckets: `assignBucket(makeBuckets({ resolutionPx: 1024 }), 1920, 1080).bucket` → 1344×768. */
export {
  makeBuckets,
  assignBucket,
  coverScale,
  DEFAULT_BUCKET_STEP_PX,
  DEFAULT_MAX_ASPECT,
  type Bucket,
  type BucketChoice,
} from './buckets.js';
/** CLIP token counts: `countClipTokens(readClipBpe(CLIP_TOKENIZER_DIR), caption)`. */
export { countClipTokens, clipTokens, makeClipBpe, CLIP_CONTENT_TOKENS, type ClipBpe } from './clip-tokens.js';
export { readClipBpe } from './clip-tokenizer-files.js';
/** Names many images in one line: `namedFew(['a.png', 'b.png', …], 3)` → `a.png, b.png, c.png, +4 more`. */
export { namedFew } from './name-list.js';
