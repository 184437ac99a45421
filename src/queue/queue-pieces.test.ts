// The queue's pure pieces: timing settings from the environment, job ids, failure reasons, a worker's device.
import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { deviceEnv } from './device-env.js';
import { queueJobId, storeJobIdOf } from './keys.js';
import { failureReasonOf } from './messages.js';
import { DEFAULT_QUEUE_TIMING, queueTimingFromEnv } from './timing.js';

describe('queue timing', () => {
  it('takes each setting from its environment variable, the defaults otherwise', () => {
    const timing = queueTimingFromEnv({ LORA_SCRIPTS_QUEUE_LOCK_MS: '3000', LORA_SCRIPTS_QUEUE_MAX_STALLED: '0' });
    expect(timing).toEqual({ ...DEFAULT_QUEUE_TIMING, lockMs: 3000, maxStalled: 0 });
    expect(queueTimingFromEnv({ LORA_SCRIPTS_QUEUE_POLL_MS: '' })).toEqual(DEFAULT_QUEUE_TIMING);
  });

  it('names the variable that is not a whole number', () => {
    const read = () => queueTimingFromEnv({ LORA_SCRIPTS_QUEUE_HEARTBEAT_MS: '1.5s' });
    expect(read).toThrow(UsageError);
    expect(read).toThrow(
      expect.objectContaining({
        line: 'LORA_SCRIPTS_QUEUE_HEARTBEAT_MS: `1.5s` is not a whole number of ms',
        hint: 'unset it for the default (5000)',
      }),
    );
    expect(() => queueTimingFromEnv({ LORA_SCRIPTS_QUEUE_LOCK_MS: '0' })).toThrow(
      expect.objectContaining({ culprit: 'LORA_SCRIPTS_QUEUE_LOCK_MS' }),
    );
  });
});

describe('queue job ids', () => {
  it('number the dispatches of a store job, and lead back to it (store ids may hold dots)', () => {
    expect(queueJobId('3f2a', 0)).toBe('3f2a.1');
    expect(queueJobId('3f2a', 4)).toBe('3f2a.5');
    expect(storeJobIdOf('3f2a.5')).toBe('3f2a');
    expect(storeJobIdOf(queueJobId('my.job', 1))).toBe('my.job');
  });
});

describe('failure reasons', () => {
  it('read back the JSON a worker failed a job with; name a lost worker; keep any other text', () => {
    expect(failureReasonOf('{"code":"lora_missing","message":"a: gone","hint":"upload it"}')).toEqual({
      code: 'lora_missing',
      message: 'a: gone',
      hint: 'upload it',
    });
    expect(failureReasonOf('job stalled more than allowable limit').code).toBe('worker_lost');
    expect(failureReasonOf('Redis said no')).toEqual({ code: 'queue_failed', message: 'Redis said no' });
    expect(failureReasonOf(undefined).message).toBe('the job failed on the queue without a reason');
  });
});

describe("a worker's device", () => {
  const env = { PATH: '/bin', CUDA_VISIBLE_DEVICES: '0,1' };
  it('shows the engine one GPU, none, or leaves the choice to it', () => {
    expect(deviceEnv('cuda:1', env)).toEqual({ PATH: '/bin', CUDA_VISIBLE_DEVICES: '1' });
    expect(deviceEnv('cpu', env)).toEqual({ PATH: '/bin', CUDA_VISIBLE_DEVICES: '' });
    expect(deviceEnv('auto', env)).toBe(env);
    expect(deviceEnv('cuda', env)).toBe(env);
  });

  it('names --device when it is none of those', () => {
    expect(() => deviceEnv('gpu7', env)).toThrow(
      expect.objectContaining({ line: '--device: `gpu7` is not a device', code: 'bad_device' }),
    );
  });
});
