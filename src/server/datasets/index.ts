// Datasets in the workspace, for the studio's routes: names, folders, uploads (form or zip), caption lint and edits,
// find-and-replace, settings and the prepare report. Pure cores beside thin shells; routes/datasets.ts serves them.

/** `findDataset(workspace, 'jiangnan')` → the folder, or a 400/403/404 error naming what is wrong. */
export {
  createDataset,
  type DatasetFolder,
  type DatasetImage,
  type DatasetSummary,
  findDataset,
  imageFiles,
  listDatasets,
  readCaptions,
  readDatasetImages,
  readSettings,
  summarizeDataset,
  writeCaption,
  writeSettings,
} from './dataset-folder.js';
export { checkDatasetName, DATASETS_DIR, datasetNameOfPath, datasetPath, isDatasetName } from './dataset-name.js';
/** `await addToDataset(folder, zipSources(bytes, DEFAULT_ZIP_LIMITS))` → `{added, skipped}`. */
export { addToDataset, formSources, type UploadResult, type UploadSource, zipSources } from './dataset-upload.js';
export { uploadBodyLimitBytes } from './upload-files.js';
/** `lintCaption({caption, file, captions, triggerWord, bpe})` → `{findings, tokens: {count, limit}}`. */
export { type CaptionLint, lintCaption } from './caption-lint.js';
export { type CaptionChange, planReplace } from './caption-replace.js';
export { type DatasetSettings, triggerWordOf } from './dataset-settings.js';
export { readDatasetReport } from './dataset-report.js';
export type { DatasetReport } from './report-view.js';
export { DatasetRequestError } from './request-error.js';
export * from './http-schemas.js';
