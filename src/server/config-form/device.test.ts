// The device answer: the engine's own `doctor` when the engine is set up (as `npm test` sets it up), asked once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { engineDeviceDetector } from './device.js';

describe('engineDeviceDetector', () => {
  it("asks the engine's doctor once and keeps the answer", async () => {
    const detect = engineDeviceDetector({ ...process.env, CI: '1' });
    const first = detect();
    expect(detect()).toBe(first);
    const { facts, unknownReason } = await first;
    expect(unknownReason).toBe('');
    expect(['cpu', 'cuda', 'mps']).toContain(facts?.kind);
    if (facts?.kind === 'cuda') expect(facts.memoryGiB).toBeGreaterThan(0);
  }, 120_000);

  it('answers "unknown" without setting the engine up when it is not', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'no-engine-'));
    try {
      const detect = engineDeviceDetector({
        ...process.env,
        LORA_SCRIPTS_CACHE_DIR: cache,
        LORA_SCRIPTS_ENGINE_VENV: '',
      });
      const answer = await detect();
      expect(answer.facts).toBeNull();
      expect(answer.unknownReason).toContain('lora-scripts setup');
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });
});
