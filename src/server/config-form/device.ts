// The device the engine trains on, asked once per server (the engine's `doctor` imports torch: seconds), never by
// setting the engine up: a pre-flight must not start a download of torch.
import { isEngineReady, type Env } from '../../engine/index.js';
import { detectDevice, type DeviceFacts } from '../../train/index.js';

export interface DeviceAnswer {
  facts: DeviceFacts | null;
  /** Why `facts` is null; empty when known. */
  unknownReason: string;
}

export type DetectDevice = () => Promise<DeviceAnswer>;

const NOT_SET_UP = 'the engine is not set up yet: `lora-scripts setup`, or the first training sets it up';

/** Asks the engine on first use and keeps the answer; a failed ask is tried again next time. */
export function engineDeviceDetector(env: Env): DetectDevice {
  let answer: Promise<DeviceAnswer> | null = null;
  return () => {
    if (answer !== null) return answer;
    if (!isEngineReady(env)) return Promise.resolve({ facts: null, unknownReason: NOT_SET_UP });
    const asking = detectDevice(env, () => {}).then(
      (facts): DeviceAnswer => ({ facts, unknownReason: '' }),
      (error: unknown): DeviceAnswer => {
        answer = null;
        const why = error instanceof Error ? error.message.split('\n')[0] : String(error);
        return { facts: null, unknownReason: `the engine's device check failed: ${why}` };
      },
    );
    answer = asking;
    return asking;
  };
}
