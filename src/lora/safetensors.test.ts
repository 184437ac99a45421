// The safetensors core against real bytes: round trips, Python's own writer, and hostile files.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { engineVenvDir, venvPython } from '../engine/paths.js';
import { LoraFileError } from './lora-file-error.js';
import { findDuplicateKey, parseSafetensors, serializeSafetensors, type Tensor } from './safetensors.js';

const FIXTURES = new URL('../../tests/fixtures/lora/', import.meta.url);

const bytesOf = (array: ArrayBufferView) => new Uint8Array(array.buffer, array.byteOffset, array.byteLength);

/** A file from a header written by hand, for inputs our own writer would never produce. */
function craft(header: string | object, data: Uint8Array = new Uint8Array(), declaredSize?: bigint): Buffer {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(declaredSize ?? BigInt(json.length));
  return Buffer.concat([prefix, json, data]);
}

function errorOf(run: () => unknown): LoraFileError {
  try {
    run();
  } catch (error) {
    if (error instanceof LoraFileError) return error;
    throw error;
  }
  throw new Error('expected a LoraFileError');
}

const parseError = (bytes: Buffer) => errorOf(() => parseSafetensors(bytes, 'data/x.safetensors'));

describe('serializeSafetensors + parseSafetensors', () => {
  it('round-trips F32, F16 and BF16 tensors, a 0-dim alpha, an empty tensor and metadata', () => {
    const tensors = new Map<string, Tensor>([
      [
        'down.weight',
        { dtype: 'F16', shape: [2, 3], data: bytesOf(new Uint16Array([0x3c00, 0xbc00, 0, 1, 0x7bff, 0x8000])) },
      ],
      [
        'up.weight',
        { dtype: 'BF16', shape: [3, 2], data: bytesOf(new Uint16Array([0x3f80, 0x4000, 0xc040, 0, 0x7f80, 1])) },
      ],
      ['alpha', { dtype: 'F32', shape: [], data: bytesOf(new Float32Array([8])) }],
      ['empty', { dtype: 'F32', shape: [0, 4], data: new Uint8Array() }],
    ]);
    const metadata = {
      ss_network_dim: '16',
      ss_tag_frequency: '{"10_a": {"1girl": 3}}',
      'lora_scripts.note': 'ünïcødé ✓',
    };
    const file = parseSafetensors(serializeSafetensors({ metadata, tensors }), 'mem.safetensors');

    expect(file.metadata).toEqual(metadata);
    expect([...file.tensors.keys()].sort()).toEqual([...tensors.keys()].sort());
    for (const [name, tensor] of tensors) {
      const read = file.tensors.get(name)!;
      expect(read.dtype).toBe(tensor.dtype);
      expect(read.shape).toEqual(tensor.shape);
      expect(Buffer.from(read.data).equals(Buffer.from(tensor.data))).toBe(true);
    }
    expect(new Float32Array(Uint8Array.from(file.tensors.get('alpha')!.data).buffer)[0]).toBe(8);
  });

  it('reads tensor data as views into the file buffer, not copies', () => {
    const bytes = serializeSafetensors({
      metadata: {},
      tensors: new Map([['a', { dtype: 'U8', shape: [2], data: new Uint8Array([7, 9]) }]]),
    });
    const data = parseSafetensors(bytes, 'mem').tensors.get('a')!.data;
    expect(data.buffer).toBe(bytes.buffer);
    bytes[bytes.length - 1] = 42;
    expect([...data]).toEqual([7, 42]);
  });

  it('writes the same bytes as Python safetensors 0.8 for the same tensors', () => {
    const python = readFileSync(new URL('python-written.safetensors', FIXTURES));
    // The same tensors make_fixtures.py saves, built from the same values and bit patterns.
    const tensors = new Map<string, Tensor>([
      ['b.f32', { dtype: 'F32', shape: [2, 3], data: bytesOf(new Float32Array([1, -2.5, 3.25, 0, 1e-5, -0])) }],
      ['a.f16', { dtype: 'F16', shape: [2, 3], data: bytesOf(new Uint16Array([0, 1, 2, 3, 4, 5])) }],
      ['c.bf16', { dtype: 'BF16', shape: [4], data: bytesOf(new Uint16Array([0x3f80, 0x3f81, 0x3f82, 0x3f83])) }],
      ['a.alpha', { dtype: 'F32', shape: [], data: bytesOf(new Float32Array([8])) }],
      ['z.alpha', { dtype: 'I64', shape: [], data: bytesOf(new BigInt64Array([4n])) }],
      ['e.empty', { dtype: 'F16', shape: [0, 3], data: new Uint8Array() }],
      ['u.u8', { dtype: 'U8', shape: [3], data: new Uint8Array([1, 2, 3]) }],
    ]);
    const ours = serializeSafetensors({ metadata: { ss_network_dim: '4' }, tensors });
    expect(ours.toString('latin1')).toBe(python.toString('latin1'));
  });

  it('reproduces the worked example of docs/formats/safetensors.md §5 (116 bytes)', () => {
    const bytes = serializeSafetensors({
      metadata: { ss_network_dim: '4' },
      tensors: new Map([['x.alpha', { dtype: 'F32', shape: [], data: bytesOf(new Float32Array([4])) }]]),
    });
    expect(bytes.length).toBe(116);
    expect(bytes.readBigUInt64LE(0)).toBe(104n);
    expect(bytes.subarray(8, 112).toString()).toBe(
      '{"__metadata__":{"ss_network_dim":"4"},"x.alpha":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}       ',
    );
    expect([...bytes.subarray(112)]).toEqual([0x00, 0x00, 0x80, 0x40]);
  });

  it('keeps integer-like metadata keys in insertion order and omits empty metadata', () => {
    const header = (metadata: Record<string, string>) => {
      const bytes = serializeSafetensors({ metadata, tensors: new Map() });
      return bytes.subarray(8).toString().trimEnd();
    };
    expect(header({ b: '1', 10: 'x' })).toBe('{"__metadata__":{"10":"x","b":"1"}}');
    expect(header({})).toBe('{}');
  });

  it('refuses to write data whose length does not match dtype and shape', () => {
    const error = errorOf(() =>
      serializeSafetensors({
        metadata: {},
        tensors: new Map([['w', { dtype: 'F16', shape: [2, 2], data: new Uint8Array(6) }]]),
      }),
    );
    expect(error.code).toBe('tensor_size_mismatch');
    expect(error.line).toBe('w: F16 [2,2] needs 8 bytes but the data is 6');
  });
});

describe('parseSafetensors on hostile files', () => {
  const f32 = (name: string, begin: number, end: number, shape = [(end - begin) / 4]) => ({
    [name]: { dtype: 'F32', shape, data_offsets: [begin, end] },
  });

  it('rejects a file shorter than the 8-byte length', () => {
    const error = parseError(Buffer.from([1, 0, 0]));
    expect([error.code, error.line]).toEqual([
      'header_too_small',
      'data/x.safetensors: 3 bytes is too short for a safetensors file',
    ]);
  });

  it('rejects a file cut short inside its tensor data', () => {
    const whole = craft(f32('a.weight', 0, 4096), new Uint8Array(4096));
    const error = parseError(whole.subarray(0, whole.length - 2048));
    expect(error.code).toBe('tensor_past_end');
    expect(error.line).toBe(
      "data/x.safetensors: tensor `a.weight` ends at byte 4096 but the file's data is 2048 bytes",
    );
    expect(error.hint).toBe('the file is damaged or not a safetensors file; export or download it again');
  });

  it('rejects a header length larger than the file', () => {
    const error = parseError(craft(f32('a', 0, 4), new Uint8Array(4), 500n));
    expect(error.code).toBe('header_past_end');
    expect(error.message).toMatch(/^header claims 500 bytes but the file is only \d+ bytes$/);
  });

  it('rejects a header claimed above 100 MB before looking any further', () => {
    const error = parseError(craft('{}', new Uint8Array(), 100_000_001n));
    expect([error.code, error.message]).toEqual([
      'header_too_large',
      'header claims 100000001 bytes; the limit is 100000000',
    ]);
    expect(parseError(craft('{}', new Uint8Array(), 2n ** 64n - 1n)).code).toBe('header_too_large');
  });

  it('rejects a header that is not JSON, not UTF-8, or not an object', () => {
    expect(parseError(craft('{"a": ')).code).toBe('header_not_json');
    expect(parseError(craft(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString('latin1'))).code).toBe('header_not_json');
    const notUtf8 = Buffer.concat([Buffer.from([4, 0, 0, 0, 0, 0, 0, 0]), Buffer.from([0x7b, 0x22, 0xff, 0x7d])]);
    expect(parseError(notUtf8).code).toBe('header_not_utf8');
    expect(parseError(craft('[]')).code).toBe('header_not_object');
  });

  it('rejects metadata with a non-string value, naming the key', () => {
    const error = parseError(craft({ __metadata__: { ss_network_dim: 16 } }));
    expect(error.code).toBe('metadata_not_strings');
    expect(error.message).toBe('metadata `ss_network_dim` is 16, not a string');
  });

  it('rejects offsets that point past the data', () => {
    const error = parseError(craft({ ...f32('a', 0, 8), ...f32('b', 8, 24) }, new Uint8Array(16)));
    expect(error.message).toBe("tensor `b` ends at byte 24 but the file's data is 16 bytes");
  });

  it('rejects overlapping tensors', () => {
    const error = parseError(craft({ ...f32('a', 0, 8), ...f32('b', 4, 12) }, new Uint8Array(12)));
    expect([error.code, error.message]).toEqual([
      'offset_overlap',
      'tensor `b` starts at byte 4 but `a` ends at byte 8, overlapping it',
    ]);
  });

  it('rejects a hole between tensors and data not starting at 0', () => {
    const hole = parseError(craft({ ...f32('a', 0, 4), ...f32('b', 8, 12) }, new Uint8Array(12)));
    expect([hole.code, hole.message]).toEqual([
      'offset_hole',
      'tensor `b` starts at byte 8 but `a` ends at byte 4, leaving 4 unused bytes',
    ]);
    const late = parseError(craft(f32('a', 4, 8), new Uint8Array(8)));
    expect([late.code, late.message]).toEqual([
      'offset_hole',
      'tensor `a` starts at byte 4; the first tensor must start at 0',
    ]);
  });

  it('rejects a shape that does not match the byte range', () => {
    const error = parseError(craft(f32('a', 0, 8, [3]), new Uint8Array(8)));
    expect([error.code, error.message]).toEqual([
      'tensor_size_mismatch',
      'tensor `a` is F32 [3] (12 bytes) but its offsets span 8 bytes',
    ]);
    // A shape whose element count overflows 64 bits must not wrap around to a plausible size.
    const huge = parseError(craft(f32('a', 0, 0, [2 ** 40, 2 ** 40, 0x1000000]), new Uint8Array()));
    expect(huge.code).toBe('tensor_size_mismatch');
  });

  it('rejects an unknown dtype', () => {
    const error = parseError(craft({ a: { dtype: 'F128', shape: [1], data_offsets: [0, 16] } }, new Uint8Array(16)));
    expect([error.code, error.message]).toEqual(['unknown_dtype', 'tensor `a` has unknown dtype "F128"']);
    expect(parseError(craft({ a: [0, 4] })).message).toBe('tensor `a` is described by [0,4], not an object');
  });

  it('rejects duplicate keys, at the top level and inside metadata', () => {
    const entry = '{"dtype":"U8","shape":[1],"data_offsets":[0,1]}';
    const top = parseError(craft(`{"a":${entry},"a":${entry}}`, new Uint8Array(1)));
    expect([top.code, top.message]).toEqual(['duplicate_key', 'key `a` appears twice in the header']);
    expect(parseError(craft('{"__metadata__":{"k":"1","k":"2"}}')).code).toBe('duplicate_key');
  });

  it('rejects bytes after the last tensor', () => {
    const error = parseError(craft(f32('a', 0, 4), new Uint8Array(6)));
    expect([error.code, error.message]).toEqual(['trailing_bytes', '2 bytes follow the last tensor']);
  });

  it('rejects a file cut inside its header, with the whole error line', () => {
    const whole = craft(f32('a.weight', 0, 8), new Uint8Array(8));
    const error = parseError(whole.subarray(0, 30));
    expect([error.code, error.line]).toEqual([
      'header_past_end',
      `data/x.safetensors: header claims ${whole.length - 16} bytes but the file is only 30 bytes`,
    ]);
    expect(error.hint).toBe('the file is damaged or not a safetensors file; export or download it again');
  });

  it('rejects lying offsets: an end before its begin, negative or fractional offsets, a wrong-length pair', () => {
    const inverted = parseError(
      craft(
        { a: { dtype: 'U8', shape: [4], data_offsets: [0, 4] }, b: { dtype: 'U8', shape: [0], data_offsets: [4, 2] } },
        new Uint8Array(4),
      ),
    );
    expect([inverted.code, inverted.line]).toEqual([
      'invalid_offset',
      'data/x.safetensors: tensor `b` ends at byte 2, before it starts (4)',
    ]);
    for (const offsets of [[-4, 0], [0, 3.5], [0], [0, 4, 8], ['0', '4'], [0, 2 ** 60]]) {
      const error = parseError(craft({ a: { dtype: 'U8', shape: [4], data_offsets: offsets } }, new Uint8Array(4)));
      expect([error.code, error.line]).toEqual([
        'invalid_tensor_info',
        `data/x.safetensors: tensor \`a\` has data_offsets ${JSON.stringify(offsets)}, not [begin, end]`,
      ]);
    }
  });

  it('rejects two tensors sharing bytes, also one inside another', () => {
    const same = parseError(craft({ ...f32('a', 0, 8), ...f32('b', 0, 8) }, new Uint8Array(8)));
    expect([same.code, same.line]).toEqual([
      'offset_overlap',
      'data/x.safetensors: tensor `b` starts at byte 0 but `a` ends at byte 8, overlapping it',
    ]);
    const inside = parseError(craft({ ...f32('outer', 0, 16), ...f32('inner', 4, 8) }, new Uint8Array(16)));
    expect([inside.code, inside.line]).toEqual([
      'offset_overlap',
      'data/x.safetensors: tensor `inner` starts at byte 4 but `outer` ends at byte 16, overlapping it',
    ]);
  });

  it('rejects a header length of 2^64 − 1 with one line, before allocating anything', () => {
    const error = parseError(craft('{}', new Uint8Array(), 2n ** 64n - 1n));
    expect(error.line).toBe('data/x.safetensors: header claims 18446744073709551615 bytes; the limit is 100000000');
  });

  it('accepts tensors listed in any order and trailing spaces in the header', () => {
    const file = parseSafetensors(
      craft(
        `{${JSON.stringify(f32('b', 4, 8)).slice(1, -1)},${JSON.stringify(f32('a', 0, 4)).slice(1, -1)}}   `,
        bytesOf(new Float32Array([1, 2])),
      ),
      'mem',
    );
    expect([...file.tensors.get('a')!.data]).toEqual([...bytesOf(new Float32Array([1]))]);
    expect([...file.tensors.get('b')!.data]).toEqual([...bytesOf(new Float32Array([2]))]);
  });
});

describe('`__metadata__` forms, accepted and refused as the Python safetensors library does', () => {
  // `safe_open` in the engine's virtualenv is the reference: it reads `null` (and no entry) as no metadata, and
  // refuses anything but an object of strings.
  const forms: [string, unknown, 'opens' | 'refused'][] = [
    ['null', null, 'opens'],
    ['an empty object', {}, 'opens'],
    ['strings', { ss_network_dim: '4' }, 'opens'],
    ['a number value', { ss_network_dim: 4 }, 'refused'],
    ['a null value', { ss_network_dim: null }, 'refused'],
    ['a nested object', { ss_tag_frequency: { a: '1' } }, 'refused'],
    ['an array value', { tags: ['a'] }, 'refused'],
    ['a boolean value', { flag: true }, 'refused'],
    ['a string', 'x', 'refused'],
    ['an array', ['x'], 'refused'],
    ['a number', 3, 'refused'],
    ['false', false, 'refused'],
  ];
  const fileOf = (metadata: unknown) =>
    craft(
      { __metadata__: metadata, x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } },
      bytesOf(new Float32Array([1.5])),
    );
  const ours = (metadata: unknown) => {
    try {
      return { outcome: 'opens', metadata: parseSafetensors(fileOf(metadata), 'x.safetensors').metadata };
    } catch (error) {
      if (error instanceof LoraFileError && error.code === 'metadata_not_strings') return { outcome: 'refused' };
      throw error;
    }
  };

  it('match Python file by file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'safetensors-metadata-'));
    const paths = forms.map(([, metadata], i) => {
      const path = join(dir, `${i}.safetensors`);
      writeFileSync(path, fileOf(metadata));
      return path;
    });
    const script = [
      'import json, sys',
      'from safetensors import safe_open',
      'def outcome(path):',
      '    try:',
      '        with safe_open(path, "np") as f:',
      '            return ["opens", f.metadata() or {}, float(f.get_tensor("x")[0])]',
      '    except Exception:',
      '        return ["refused"]',
      'print(json.dumps([outcome(p) for p in sys.argv[1:]]))',
    ].join('\n');
    const python = spawnSync(venvPython(engineVenvDir(process.env)), ['-c', script, ...paths], { encoding: 'utf8' });
    expect(python.status, python.stderr).toBe(0);
    const theirs = JSON.parse(python.stdout) as [string, Record<string, string>?, number?][];
    forms.forEach(([name, metadata, expected], i) => {
      expect([name, theirs[i]![0]]).toEqual([name, expected]);
      const read = ours(metadata);
      expect([name, read.outcome]).toEqual([name, expected]);
      if (expected === 'opens') expect(read.metadata).toEqual(theirs[i]![1]);
    });
    expect(theirs[0]).toEqual(['opens', {}, 1.5]);
  });
});

describe('findDuplicateKey', () => {
  it('finds repeats per object at any depth, ignoring string values and escaped quotes', () => {
    expect(findDuplicateKey('{"a":{"x":1},"b":{"x":2}}')).toBeUndefined();
    expect(findDuplicateKey('{"a":"a","b":["a","a"]}')).toBeUndefined();
    expect(findDuplicateKey('{"a":{"x":1,"y":{"q\\"":1},"x":2}}')).toBe('x');
    expect(findDuplicateKey('{"\\u0061" : 1, "a": 2}')).toBe('a');
  });
});
