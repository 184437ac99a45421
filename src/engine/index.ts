// Public API of the engine stage: protocol types, running the Python engine, setting up its virtualenv.
/** `await runEngine({command: 'doctor'}, {env: process.env})` resolves with the `done` event. */
export { runEngine, type RunEngineOptions, type EngineRunResult } from './process.js';
/** `devices` → one engine process or several through accelerate's launcher. */
export {
  countVisibleGpus,
  declaredProcessCount,
  devicesText,
  engineCommand,
  needsGpuCount,
  processCount,
  resolveDevices,
  SINGLE_PROCESS,
  type DevicesSetting,
  type EngineLaunch,
} from './devices.js';
export {
  parseEngineLine,
  engineEventSchema,
  engineRequestSchema,
  engineRequestJsonSchemas,
  validateEngineRequest,
  workerCancelSchema,
  workerJobSchema,
  PROTOCOL_VERSION,
  type EngineEvent,
  type EngineRequest,
  type EngineRequestBody,
  type EventOf,
  type OptionsOf,
  type RequestBodyOf,
  type RequestOf,
  type TrainConfig,
  type WorkerJob,
} from './protocol.js';
/** `setupEngine({env: process.env, log: console.error})` creates or updates the venv; a no-op when current. */
export { setupEngine, isEngineReady, detectTorchBuild, type SetupResult } from './setup.js';
export {
  engineVenvDir,
  venvPython,
  ENGINE_SOURCE_DIR,
  CLIP_TOKENIZER_DIR,
  PACKAGE_ROOT,
  type Env,
} from './paths.js';
