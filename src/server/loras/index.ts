// Public API of the studio's LoRA files: list the workspace's LoRAs, inspect one, download it in either key format,
// keep a train job's intermediate LoRA. The routes in routes/loras.ts call only these.

/**
 * Every LoRA of the workspace (kohya or diffusers keys, from the header only), newest first, with its train job.
 * @example listWorkspaceLoras(workspace, await store.listJobs({ kind: 'train' }))[0] // { path: 'output/demo/demo.safetensors', format: 'kohya', rank: 4, steps: 2, job_id: '…', … }
 */
export { listWorkspaceLoras, type LoraFile, openLoraFile } from './lora-files.js';
/**
 * A LoRA as a stream to send: the file, or a copy converted to `format` that is removed as it is sent.
 * @example const { stream, contentDisposition } = await prepareLoraDownload(workspace, 'output/demo/demo.safetensors', 'diffusers');
 */
export { type LoraDownload, prepareLoraDownload } from './lora-download.js';
export { contentDisposition, downloadName } from './download-name.js';
/**
 * Copies the intermediate LoRA a train job saved at `step` to `<output_name>-step<step>.safetensors` beside its final one.
 * @example await keepTrainedLora({ store, workspace, jobId, step: 100 }) // 'output/demo/demo-step100.safetensors'
 */
export { keepTrainedLora, type KeepOptions } from './keep-lora.js';
export { keptLoraName, planKeep, savedIntermediates, type KeepPlan, type SavedIntermediate } from './keep-plan.js';
export { loraEntryOf, loraKeyFormat, type LoraKeyFormat, requireLoraFormat } from './lora-entry.js';
export {
  inspectReportSchema,
  keepBodySchema,
  keptLoraSchema,
  loraDownloadQuerySchema,
  type LoraEntry,
  loraEntrySchema,
  loraKeyFormatSchema,
  loraListSchema,
  loraPathQuerySchema,
} from './schemas.js';
