// The fs shell on real files in a temp folder: header reads through a descriptor, whole reads, atomic writes.
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LoraFileError } from './lora-file-error.js';
import { readSafetensors, readSafetensorsHeader, writeSafetensorsAtomic } from './safetensors-file.js';
import type { SafetensorsContent } from './safetensors.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lora-safetensors-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const content: SafetensorsContent = {
  metadata: { ss_network_dim: '4' },
  tensors: new Map([
    ['a.lora_down.weight', { dtype: 'F16', shape: [1, 2], data: new Uint8Array([0, 0x3c, 0, 0xbc]) }],
    ['a.alpha', { dtype: 'F32', shape: [], data: new Uint8Array([0, 0, 0x80, 0x40]) }],
  ]),
};

describe('readSafetensorsHeader', () => {
  it('reads the same header through a file descriptor as from the bytes', async () => {
    const path = join(dir, 'a.safetensors');
    const bytes = await writeSafetensorsAtomic(path, content);
    const fd = openSync(path, 'r');
    try {
      expect(readSafetensorsHeader(fd, path)).toEqual(readSafetensorsHeader(bytes, path));
      expect(readSafetensorsHeader(fd, path).tensors.get('a.alpha')).toEqual({
        dtype: 'F32',
        shape: [],
        dataOffsets: [0, 4],
      });
    } finally {
      closeSync(fd);
    }
  });

  it('refuses a descriptor whose file claims a header longer than itself, without reading it', () => {
    const path = join(dir, 'liar.safetensors');
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(90_000_000n);
    writeFileSync(path, Buffer.concat([prefix, Buffer.from('{}')]));
    const fd = openSync(path, 'r');
    try {
      const error = (() => {
        try {
          readSafetensorsHeader(fd, path);
        } catch (caught) {
          return caught;
        }
      })();
      expect(error).toBeInstanceOf(LoraFileError);
      expect(error).toMatchObject({
        code: 'header_past_end',
        line: `${path}: header claims 90000000 bytes but the file is only 10 bytes`,
      });
    } finally {
      closeSync(fd);
    }
  });
});

describe('readSafetensorsHeader on hostile files', () => {
  const headerError = (bytes: Uint8Array) => {
    const path = join(dir, 'hostile.safetensors');
    writeFileSync(path, bytes);
    const fd = openSync(path, 'r');
    try {
      readSafetensorsHeader(fd, path);
    } catch (error) {
      if (error instanceof LoraFileError) return { code: error.code, line: error.line.replace(`${path}: `, '') };
      throw error;
    } finally {
      closeSync(fd);
    }
    throw new Error('read without error');
  };
  const prefixed = (size: bigint, rest: string) => {
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(size);
    return Buffer.concat([prefix, Buffer.from(rest)]);
  };

  it('refuses an oversized header length (up to 2^64 − 1) from the first 8 bytes alone', () => {
    expect(headerError(prefixed(2n ** 64n - 1n, '{}'))).toEqual({
      code: 'header_too_large',
      line: 'header claims 18446744073709551615 bytes; the limit is 100000000',
    });
    expect(headerError(prefixed(100_000_001n, '{}'))).toEqual({
      code: 'header_too_large',
      line: 'header claims 100000001 bytes; the limit is 100000000',
    });
  });

  it('refuses a file cut inside its header or its data, and one with overlapping tensors', () => {
    const header =
      '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}';
    expect(headerError(prefixed(BigInt(header.length), header.slice(0, 40)))).toEqual({
      code: 'header_past_end',
      line: `header claims ${header.length} bytes but the file is only 48 bytes`,
    });
    expect(headerError(Buffer.concat([prefixed(BigInt(header.length), header), Buffer.alloc(12)]))).toEqual({
      code: 'offset_overlap',
      line: 'tensor `b` starts at byte 4 but `a` ends at byte 8, overlapping it',
    });
    const single = '{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}';
    expect(headerError(Buffer.concat([prefixed(BigInt(single.length), single), Buffer.alloc(10)]))).toEqual({
      code: 'tensor_past_end',
      line: "tensor `a` ends at byte 16 but the file's data is 10 bytes",
    });
    expect(headerError(Buffer.from([1, 2, 3]))).toEqual({
      code: 'header_too_small',
      line: '3 bytes is too short for a safetensors file',
    });
  });
});

describe('readSafetensors', () => {
  it('reads back what writeSafetensorsAtomic wrote', async () => {
    const path = join(dir, 'b.safetensors');
    await writeSafetensorsAtomic(path, content);
    const file = await readSafetensors(path);
    expect(file.metadata).toEqual({ ss_network_dim: '4' });
    expect([...file.tensors.get('a.lora_down.weight')!.data]).toEqual([0, 0x3c, 0, 0xbc]);
  });

  it('names a missing file', async () => {
    const path = join(dir, 'missing.safetensors');
    await expect(readSafetensors(path)).rejects.toMatchObject({
      code: 'file_not_found',
      line: `${path}: no such file`,
    });
  });
});

describe('writeSafetensorsAtomic', () => {
  it('replaces an existing file and leaves no temp file behind', async () => {
    const path = join(dir, 'c.safetensors');
    writeFileSync(path, 'old');
    const bytes = await writeSafetensorsAtomic(path, content);
    expect(readFileSync(path).equals(bytes)).toBe(true);
    expect(readdirSync(dir)).toEqual(['c.safetensors']);
  });

  it('creates the folder it writes into', async () => {
    const path = join(dir, 'new', 'd.safetensors');
    await writeSafetensorsAtomic(path, content);
    expect((await readSafetensors(path)).metadata).toEqual({ ss_network_dim: '4' });
  });

  it('removes its temp file and keeps the target untouched when the rename fails', async () => {
    const target = join(dir, 'taken');
    mkdirSync(join(target, 'child'), { recursive: true }); // a non-empty folder cannot be renamed over
    await expect(writeSafetensorsAtomic(target, content)).rejects.toThrow();
    expect(readdirSync(dir)).toEqual(['taken']);
    expect(readdirSync(target)).toEqual(['child']);
  });
});
