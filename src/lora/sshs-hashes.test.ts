// The sshs hashes over files big enough to reach the legacy window at 1 MiB.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseSafetensors, type Tensor } from './safetensors.js';
import { addnetHash, legacyHash, serializeWithSshsHashes } from './sshs-hashes.js';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

function bigTensors(): Map<string, Tensor> {
  // 1.25 MiB of F16 with a pattern, so a shifted window would hash differently.
  const data = new Uint8Array(1_310_720);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31) % 251;
  return new Map([['lora_unet_x.lora_down.weight', { dtype: 'F16', shape: [640, 1024], data }]]);
}

describe('serializeWithSshsHashes', () => {
  it('stores the hashes of the bytes it returns, whatever the metadata', () => {
    const {
      bytes,
      modelHash,
      legacyHash: legacy,
    } = serializeWithSshsHashes({
      metadata: { ss_output_name: 'x', ss_tag_frequency: '{"a": 1}', sshs_legacy_hash: 'stale' },
      tensors: bigTensors(),
    });
    const headerSize = Number(bytes.readBigUInt64LE(0));
    expect(modelHash).toBe(sha256(bytes.subarray(8 + headerSize)));
    expect(legacy).toBe(sha256(bytes.subarray(0x100000, 0x110000)).slice(0, 8));
    expect(parseSafetensors(bytes, 'mem').metadata).toEqual({
      sshs_model_hash: modelHash,
      sshs_legacy_hash: legacy,
      ss_output_name: 'x',
      ss_tag_frequency: '{"a": 1}',
    });
  });

  it('keeps the model hash when only metadata changes, as A1111 expects', () => {
    const a = serializeWithSshsHashes({ metadata: { ss_output_name: 'a' }, tensors: bigTensors() });
    const b = serializeWithSshsHashes({ metadata: { ss_output_name: 'a much longer name' }, tensors: bigTensors() });
    expect(a.modelHash).toBe(b.modelHash);
    expect(a.legacyHash).not.toBe(b.legacyHash); // the window moves with the header length
  });
});

describe('addnetHash and legacyHash', () => {
  it('hash the data buffer and the 1 MiB window; a small file has an empty window', () => {
    const { bytes } = serializeWithSshsHashes({
      metadata: {},
      tensors: new Map([['a', { dtype: 'U8', shape: [2], data: Uint8Array.from([1, 2]) }]]),
    });
    expect(addnetHash(bytes)).toBe(sha256(Uint8Array.from([1, 2])));
    expect(legacyHash(bytes)).toBe('e3b0c442'); // sha256 of nothing, as sd-scripts gets for files under 1 MiB
  });
});
