// config + dataset → the engine's train request and the facts the kohya metadata needs. Pure.
import type { ResolvedConfig } from '../config/index.js';
import { CONFIG_KEYS } from '../config/index.js';
import type { EngineRequest } from '../engine/index.js';
import { resolveTargetModules, type TargetEntry } from './target-modules.js';

export interface TrainPlan {
  request: Omit<EngineRequest, 'protocol'>;
  targets: TargetEntry[];
  manifestPath: string;
  /** The held-out pictures' manifest, when `validation_split` or `validation_dir` asks for a validation loss. */
  validationManifestPath: string | null;
  logsDir: string;
  engineLogPath: string;
}

export function planTraining(config: ResolvedConfig, outputDir = config.output_dir): TrainPlan {
  const targets = resolveTargetModules(config.target_modules);
  const manifestPath = `${outputDir}/manifest.jsonl`;
  // The engine receives exactly the schema's keys (engine/tests checks the dataclass has the same names).
  const engineConfig = Object.fromEntries(CONFIG_KEYS.map((key) => [key, config[key]]));
  const hasValidation = config.validation_split > 0 || config.validation_dir !== null;
  const validationManifestPath = hasValidation ? `${outputDir}/validation.jsonl` : null;
  const options = validationManifestPath ? { targets, validation_manifest: validationManifestPath } : { targets };
  return {
    request: { command: 'train', config: engineConfig, manifest: manifestPath, options },
    targets,
    manifestPath,
    validationManifestPath,
    logsDir: `${outputDir}/logs`,
    engineLogPath: `${outputDir}/logs/engine.log`,
  };
}

/** `<output_name>-step00000100.safetensors`, kohya's naming for intermediate saves. */
export function intermediateLoraName(outputName: string, step: number): string {
  return `${outputName}-step${String(step).padStart(8, '0')}.safetensors`;
}
