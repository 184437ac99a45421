// What `train` finds in `output_dir` before it starts: the saved state `resume` names, and whether the config still
// matches it (the run fingerprint, as train/run.ts computes it), or a finished LoRA this run would replace.
import { existsSync } from 'node:fs';
import type { ResolvedConfig } from '../../config/index.js';
import { countVisibleGpus, declaredProcessCount } from '../../engine/index.js';
import type { MeasuredItem } from '../../dataset/index.js';
import { LoraScriptsError } from '../../errors.js';
import {
  finalFiles,
  findResumeState,
  hashTrainingPictures,
  legacyModelHash,
  readParentLora,
  runFingerprint,
} from '../../train/index.js';
import type { ConfigProblem } from './config-problems.js';

export interface OutputCheckInput {
  /** The config as `train` would run it: paths absolute, `auto` values filled. */
  config: ResolvedConfig;
  /** The training pictures, read: the fingerprint hashes them. */
  items: MeasuredItem[];
  /** Takes the workspace's own path out of a message. */
  strip: (text: string) => string;
}

export async function checkOutputFolder(input: OutputCheckInput): Promise<ConfigProblem[]> {
  return input.config.resume === null ? checkFinalFile(input) : checkResumeState(input);
}

/** `resume` as `train` resolves it, with the same error when the state is missing or the config changed since. */
async function checkResumeState({ config, items, strip }: OutputCheckInput): Promise<ConfigProblem[]> {
  try {
    const parent = config.init_lora ? await readParentLora(config.init_lora) : null;
    const fingerprint = runFingerprint(config, {
      dataset: await hashTrainingPictures(config, items), // with `reg_data_dir` and masks, as train hashes them
      baseModel: legacyModelHash(config.base_model) ?? config.base_model,
      initLora: parent?.sha256 ?? null,
      // The saved state binds the global batch (batch_size × processes), as `train` checks it.
      processes: declaredProcessCount(config.devices) ?? countVisibleGpus(process.env),
    });
    const state = findResumeState(config, fingerprint);
    const problem =
      state === null
        ? {
            code: 'resume_new_run',
            message: `\`resume: auto\`: no saved state in \`${strip(config.output_dir)}\`, so a new run starts`,
            hint: 'nothing to do; a state is saved as the run goes',
          }
        : {
            code: 'resume_from_state',
            message: `training goes on from the state at step ${state.step} (\`${strip(state.dir)}\`)`,
            hint: 'remove `resume` to start a new run instead',
          };
    return [{ field: 'resume', ...problem, blocking: false }];
  } catch (error) {
    const hint = 'fix `resume`, or remove it to start a new run';
    if (!(error instanceof LoraScriptsError)) {
      // A state folder whose record is not JSON, a LoRA that cannot be read: `train` would stop on it too.
      const why = error instanceof Error ? error.message.split('\n')[0]! : String(error);
      const message = `the saved state or the LoRA it continues cannot be read: ${strip(why)}`;
      return [{ field: 'resume', code: 'state_unreadable', message, hint, blocking: true }];
    }
    const problem = { code: error.code, message: strip(error.message), hint: strip(error.hint ?? hint) };
    return [{ field: 'resume', ...problem, blocking: true }];
  }
}

/** `train` writes its LoRA over one a finished run left with the same name. */
function checkFinalFile({ config, strip }: OutputCheckInput): ConfigProblem[] {
  const { loraFile } = finalFiles(config);
  if (!existsSync(loraFile)) return [];
  return [
    {
      field: 'output_name',
      code: 'output_exists',
      message: `\`${strip(loraFile)}\` already exists: this run replaces it`,
      hint: 'change `output_name` or `output_dir` to keep it, or set `resume` to go on from its saved state',
      blocking: false,
    },
  ];
}
