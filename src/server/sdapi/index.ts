// Public API of the A1111-compatible API's core: the service behind routes/sdapi.ts and its wire schemas.
/** `createSdapiService({workspace, worker})` → txt2img, options, progress, interrupt, the model and LoRA lists. */
export { ApiFailure, createSdapiService, FieldFaults, SCHEDULERS, type SdapiService } from './service.js';
/** `readTxt2imgBody(json)` → settings and the echoed parameters, or the 422 faults naming each field. */
export { readTxt2imgBody, TXT2IMG_FIELDS, type FieldFault, type Txt2imgSettings } from './txt2img-fields.js';
export {
  findCheckpoint,
  listCheckpoints,
  MODELS_FOLDER,
  workspaceLibrary,
  type Checkpoint,
  type LoraSources,
} from './catalog.js';
export * from './schemas.js';
