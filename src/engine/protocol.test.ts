import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../errors.js';
import { PACKAGE_ROOT } from './paths.js';
import { parseEngineLine } from './protocol.js';

const FIXTURES = join(PACKAGE_ROOT, 'tests', 'fixtures', 'protocol');

describe('engine protocol', () => {
  it('parses every shared fixture line (the Python tests emit the same lines)', () => {
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.jsonl'));
    expect(files.length).toBeGreaterThanOrEqual(3);
    const types = new Set<string>();
    for (const file of files) {
      for (const line of readFileSync(join(FIXTURES, file), 'utf8').split('\n').filter(Boolean)) types.add(parseEngineLine(line).type);
    }
    expect([...types].sort()).toEqual(['caption', 'checkpoint', 'done', 'error', 'hello', 'info', 'progress', 'sample', 'stage', 'started', 'validation', 'warning']);
  });

  it('rejects anything else on the channel with a ProtocolError naming the line', () => {
    expect(() => parseEngineLine('Loading pipeline components...')).toThrow(ProtocolError);
    expect(() => parseEngineLine('Loading pipeline components...')).toThrow(/not a protocol event: Loading pipeline components/);
    expect(() => parseEngineLine('{"type":"progress","step":"one"}')).toThrow(/invalid engine event \(step: /);
    expect(() => parseEngineLine('{"type":"telemetry"}')).toThrow(ProtocolError);
  });

  it('turns a protocol version mismatch into a setup hint', () => {
    const hello = '{"type":"hello","protocol":2,"engine":"9","device":"cpu","dtype":"float32","dtype_reason":"x"}';
    expect(() => parseEngineLine(hello)).toThrow(expect.objectContaining({ code: 'protocol_mismatch', hint: 'run `lora-scripts setup`' }));
  });
});
