// `devices` → how the engine is started: one process as always, or one per GPU / N on the CPU through accelerate's
// launcher (engine distributed.py). Pure but for `countVisibleGpus`, which asks the engine's torch.
import { spawnSync } from 'node:child_process';
import { ConfigError } from '../errors.js';
import { engineVenvDir, venvPython, type Env } from './paths.js';

/** The `devices` config value as the schema accepts it. */
export type DevicesSetting = 'single' | 'all' | `cpu:${number}` | string | number[];

export type EngineLaunch =
  /** Today's spawn: one process on the device the engine picks. */
  | { kind: 'single' }
  /** One process per GPU (these CUDA indices); one index is a single process pinned to it. */
  | { kind: 'gpus'; gpuIds: number[] }
  /** N processes on the CPU (gloo); 1 is a single process kept off any GPU. */
  | { kind: 'cpu'; processes: number };

export const SINGLE_PROCESS: EngineLaunch = { kind: 'single' };

export function processCount(launch: EngineLaunch): number {
  if (launch.kind === 'gpus') return launch.gpuIds.length;
  return launch.kind === 'cpu' ? launch.processes : 1;
}

/**
 * How many processes `devices` starts, when the setting alone says (`all` needs the visible GPUs: null). For checks
 * that must not start the engine, such as the studio's pre-flight of a resume.
 */
export function declaredProcessCount(devices: DevicesSetting): number | null {
  if (devices === 'all') return null;
  if (Array.isArray(devices)) return devices.length;
  return typeof devices === 'string' && devices.startsWith('cpu:') ? Number(devices.slice('cpu:'.length)) : 1;
}

/** Whether `devices` names GPUs, so their number must be known (`countVisibleGpus`) before `resolveDevices`. */
export function needsGpuCount(devices: DevicesSetting): boolean {
  return devices === 'all' || Array.isArray(devices);
}

/** `visibleGpus`: what the engine's torch sees (only read when `devices` names GPUs). */
export function resolveDevices(devices: DevicesSetting, visibleGpus: number): EngineLaunch {
  if (devices === 'single') return SINGLE_PROCESS;
  if (typeof devices === 'string' && devices.startsWith('cpu:')) {
    return { kind: 'cpu', processes: Number(devices.slice('cpu:'.length)) };
  }
  const noGpu = visibleGpus === 0;
  if (devices === 'all') {
    if (noGpu) throw devicesError('`all`: no CUDA GPU is visible to the engine', 'on a CPU-only machine use `cpu:N`');
    return { kind: 'gpus', gpuIds: Array.from({ length: visibleGpus }, (_, i) => i) };
  }
  const ids = devices as number[];
  const missing = ids.filter((id) => id >= visibleGpus);
  if (missing.length > 0) {
    const seen = noGpu ? 'no CUDA GPU is visible' : `the engine sees GPUs 0–${visibleGpus - 1}`;
    throw devicesError(
      `GPU ${missing.join(', ')} does not exist: ${seen}`,
      noGpu ? 'on a CPU-only machine use `cpu:N`, or remove `devices`' : `use indices below ${visibleGpus}, or \`all\``,
    );
  }
  return { kind: 'gpus', gpuIds: ids };
}

/** The request's `devices` (text, for the engine's log): `single`, `all`, `cpu:2`, `0,1`. */
export function devicesText(devices: DevicesSetting): string {
  return Array.isArray(devices) ? devices.join(',') : devices;
}

function devicesError(message: string, hint: string): ConfigError {
  return new ConfigError(message, { code: 'devices_unavailable', culprit: 'devices', hint });
}

/** How the engine is spawned: the program's arguments after the Python executable, and the extra environment. */
export interface EngineCommand {
  args: string[];
  env: Env;
  /** Several processes: the request goes in a file (`--request`), as the ranks cannot share one stdin. */
  usesRequestFile: boolean;
}

/**
 * The command line for a launch. Several processes go through accelerate's launcher with `--multi_gpu`, also on the
 * CPU: its `--cpu` mode starts one process unless MPI's `mpirun` is installed, while `--multi_gpu` starts the ranks
 * through torch elastic and the engine joins them over gloo (`ACCELERATE_USE_CPU`). `--main_process_port 0` lets the
 * launcher pick a free port, so two runs on one machine do not collide. `cpuCores`: the CPU threads to share out.
 */
export function engineCommand(launch: EngineLaunch, cpuCores: number): EngineCommand {
  const engine = ['-m', 'lora_scripts_engine'];
  const count = processCount(launch);
  if (launch.kind === 'single') return { args: engine, env: {}, usesRequestFile: false };
  const cpu = launch.kind === 'cpu';
  // No GPU at all for CPU processes (the engine would pick one); a single GPU index is pinned the same way.
  const pinned: Env = cpu ? { CUDA_VISIBLE_DEVICES: '', ACCELERATE_USE_CPU: 'true' } : {};
  if (count === 1) {
    const gpu = launch.kind === 'gpus' ? { CUDA_VISIBLE_DEVICES: String(launch.gpuIds[0]) } : {};
    return { args: engine, env: { ...pinned, ...gpu }, usesRequestFile: false };
  }
  const args = [
    '-m',
    'accelerate.commands.launch',
    '--multi_gpu',
    '--num_processes',
    String(count),
    '--num_machines',
    '1',
    '--mixed_precision',
    'no', // the engine picks its own precision (mixed_precision) and autocasts itself
    '--dynamo_backend',
    'no',
    '--main_process_port',
    '0',
    ...(cpu
      ? ['--num_cpu_threads_per_process', String(Math.max(1, Math.floor(cpuCores / count)))]
      : ['--gpu_ids', launch.gpuIds.join(',')]),
    ...engine,
  ];
  return { args, env: pinned, usesRequestFile: true };
}

/** CUDA GPUs the engine's torch sees (honours CUDA_VISIBLE_DEVICES); 0 when it has none or cannot tell. */
export function countVisibleGpus(env: Env): number {
  const result = spawnSync(venvPython(engineVenvDir(env)), ['-c', 'import torch; print(torch.cuda.device_count())'], {
    env: env as NodeJS.ProcessEnv,
    encoding: 'utf8',
    timeout: 120_000,
  });
  const count = Number(result.stdout?.trim());
  return result.status === 0 && Number.isInteger(count) ? count : 0;
}
