// A worker's `--device` as the engine's environment (pure): which GPUs the engine it starts may see.
import { UsageError } from '../errors.js';

/**
 * `cuda:N` shows the engine only GPU N, `cpu` hides every GPU, `auto` and `cuda` leave the choice to the engine.
 * Throws UsageError naming `--device` for anything else.
 * @example deviceEnv('cuda:1', process.env).CUDA_VISIBLE_DEVICES // '1'
 */
export function deviceEnv(device: string, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (device === 'auto' || device === 'cuda') return env;
  if (device === 'cpu') return { ...env, CUDA_VISIBLE_DEVICES: '' };
  const gpu = /^cuda:(\d+)$/.exec(device)?.[1];
  if (gpu !== undefined) return { ...env, CUDA_VISIBLE_DEVICES: gpu };
  throw new UsageError(`\`${device}\` is not a device`, {
    code: 'bad_device',
    culprit: '--device',
    hint: 'give `auto`, `cpu`, `cuda` or `cuda:N` (N counts from 0)',
  });
}
