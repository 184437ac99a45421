// `devices` → the launch: which values start one process as always, which go through accelerate's launcher, and the
// one-line errors for GPUs the machine does not have.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { declaredProcessCount, engineCommand, processCount, resolveDevices } from './devices.js';

describe('devices', () => {
  it('keeps the single-process spawn for the default, with nothing added', () => {
    expect(engineCommand(resolveDevices('single', 0), 8)).toEqual({
      args: ['-m', 'lora_scripts_engine'],
      env: {},
      usesRequestFile: false,
    });
  });

  it('runs cpu:N through accelerate --multi_gpu with the cores shared out, kept off any GPU', () => {
    const launch = resolveDevices('cpu:2', 0);
    expect(processCount(launch)).toBe(2);
    expect(engineCommand(launch, 8)).toEqual({
      args: [
        '-m',
        'accelerate.commands.launch',
        '--multi_gpu',
        '--num_processes',
        '2',
        '--num_machines',
        '1',
        '--mixed_precision',
        'no',
        '--dynamo_backend',
        'no',
        '--main_process_port',
        '0',
        '--num_cpu_threads_per_process',
        '4',
        '-m',
        'lora_scripts_engine',
      ],
      env: { CUDA_VISIBLE_DEVICES: '', ACCELERATE_USE_CPU: 'true' },
      usesRequestFile: true,
    });
  });

  it('gives each listed GPU a process, and pins a single GPU without the launcher', () => {
    const two = engineCommand(resolveDevices([1, 3], 4), 16);
    expect(two.args).toContain('--gpu_ids');
    expect(two.args[two.args.indexOf('--gpu_ids') + 1]).toBe('1,3');
    expect(two.env).toEqual({});
    expect(resolveDevices('all', 3)).toEqual({ kind: 'gpus', gpuIds: [0, 1, 2] });
    expect(engineCommand(resolveDevices([2], 4), 16)).toEqual({
      args: ['-m', 'lora_scripts_engine'],
      env: { CUDA_VISIBLE_DEVICES: '2' },
      usesRequestFile: false,
    });
  });

  it('refuses GPUs the engine does not see in one line naming `devices`', () => {
    expect(() => resolveDevices([0, 1], 0)).toThrow(
      expect.objectContaining({ culprit: 'devices', message: 'GPU 0, 1 does not exist: no CUDA GPU is visible' }),
    );
    expect(() => resolveDevices([0, 2], 2)).toThrow('GPU 2 does not exist: the engine sees GPUs 0–1');
    expect(() => resolveDevices('all', 0)).toThrow(ConfigError);
  });
});

describe('declaredProcessCount', () => {
  it('counts what the setting alone says, and leaves `all` to the GPUs the engine sees', () => {
    expect(declaredProcessCount('single')).toBe(1);
    expect(declaredProcessCount('cpu:3')).toBe(3);
    expect(declaredProcessCount([0, 2])).toBe(2);
    expect(declaredProcessCount('all')).toBeNull();
  });
});
