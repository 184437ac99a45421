// config + dataset → the engine's train request and the facts the kohya metadata needs. Pure.
import type { ResolvedConfig } from '../config/index.js';
import { devicesText, type OptionsOf, type TrainConfig } from '../engine/index.js';
import type { EngineBaseModelFacts } from '../checkpoint/index.js';
import { resolveTargetModules, type TargetEntry } from './target-modules.js';

/** The train request but for what only the run knows (fingerprint, parent LoRA, resume): train/run.ts adds those. */
export interface PlannedTrainRequest {
  command: 'train';
  config: TrainConfig;
  manifest: string;
  options: Pick<OptionsOf<'train'>, 'targets' | 'validation_manifest' | 'base_model_facts'>;
}

export interface TrainPlan {
  request: PlannedTrainRequest;
  targets: TargetEntry[];
  manifestPath: string;
  /** The held-out pictures' manifest, when `validation_split` or `validation_dir` asks for a validation loss. */
  validationManifestPath: string | null;
  logsDir: string;
  engineLogPath: string;
}

/** `baseModelFacts`: the checkpoint verdict's family and prediction type, which the engine loads with. */
export function planTraining(
  config: ResolvedConfig,
  baseModelFacts: EngineBaseModelFacts,
  outputDir = config.output_dir,
): TrainPlan {
  const targets = resolveTargetModules(config.target_modules);
  const manifestPath = `${outputDir}/manifest.jsonl`;
  const hasValidation = config.validation_split > 0 || config.validation_dir !== null;
  const validationManifestPath = hasValidation ? `${outputDir}/validation.jsonl` : null;
  return {
    request: {
      command: 'train',
      // Every key of the schema, resolved: the type says so, runEngine checks it, the engine refuses anything else.
      config: { ...config, devices: devicesText(config.devices) },
      manifest: manifestPath,
      options: { targets, validation_manifest: validationManifestPath, base_model_facts: baseModelFacts },
    },
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
