import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../errors.js';
import { CONFIG_KEYS } from '../config/index.js';
import { PACKAGE_ROOT } from './paths.js';
import { runEngine } from './process.js';
import {
  engineRequestJsonSchemas,
  engineRequestSchema,
  parseEngineLine,
  validateEngineRequest,
  type EngineRequestBody,
} from './protocol.js';

const FIXTURES = join(PACKAGE_ROOT, 'tests', 'fixtures', 'protocol');
const REQUESTS = join(FIXTURES, 'requests');

function readRequest(command: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(REQUESTS, `${command}.json`), 'utf8')) as Record<string, unknown>;
}

/** The fixture with one change at a dotted path (`set` undefined deletes the key). */
function changed(command: string, path: string, set: unknown): unknown {
  const request = readRequest(command);
  const parts = path.split('.');
  let node = request as Record<string, unknown>;
  for (const part of parts.slice(0, -1)) node = node[part] as Record<string, unknown>;
  if (set === undefined) delete node[parts.at(-1)!];
  else node[parts.at(-1)!] = set;
  return request;
}

/** Every object in a JSON Schema, with where it is. */
function objectsIn(schema: unknown, at = ''): { at: string; node: Record<string, unknown> }[] {
  if (typeof schema !== 'object' || schema === null) return [];
  const node = schema as Record<string, unknown>;
  const own = node.type === 'object' && node.properties ? [{ at, node }] : [];
  return [...own, ...Object.entries(node).flatMap(([key, child]) => objectsIn(child, `${at}/${key}`))];
}

describe('engine protocol', () => {
  it('parses every shared fixture line (the Python tests emit the same lines)', () => {
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.jsonl'));
    expect(files.length).toBeGreaterThanOrEqual(3);
    const types = new Set<string>();
    for (const file of files) {
      for (const line of readFileSync(join(FIXTURES, file), 'utf8').split('\n').filter(Boolean))
        types.add(parseEngineLine(line).type);
    }
    expect([...types].sort()).toEqual([
      'caption',
      'checkpoint',
      'done',
      'error',
      'hello',
      'info',
      'job_done',
      'progress',
      'render_progress',
      'sample',
      'stage',
      'started',
      'validation',
      'warning',
    ]);
  });

  it('rejects anything else on the channel with a ProtocolError naming the line', () => {
    expect(() => parseEngineLine('Loading pipeline components...')).toThrow(ProtocolError);
    expect(() => parseEngineLine('Loading pipeline components...')).toThrow(
      /not a protocol event: Loading pipeline components/,
    );
    expect(() => parseEngineLine('{"type":"progress","step":"one"}')).toThrow(/invalid engine event \(step: /);
    expect(() => parseEngineLine('{"type":"telemetry"}')).toThrow(ProtocolError);
  });

  it('turns a protocol version mismatch into a setup hint', () => {
    const hello = '{"type":"hello","protocol":99,"engine":"9","device":"cpu","dtype":"float32","dtype_reason":"x"}';
    expect(() => parseEngineLine(hello)).toThrow(
      expect.objectContaining({ code: 'protocol_mismatch', hint: 'run `lora-scripts setup`' }),
    );
  });

  it('accepts every shared request fixture, one per command (the Python tests parse the same files)', () => {
    const files = readdirSync(REQUESTS).filter((f) => f.endsWith('.json'));
    const commands = files.map(
      (file) => validateEngineRequest(JSON.parse(readFileSync(join(REQUESTS, file), 'utf8'))).command,
    );
    expect(commands).toEqual(files.map((f) => f.replace(/\.json$/, '')));
    expect(commands.sort()).toEqual(engineRequestSchema.options.map((o) => o.shape.command.value).sort());
  });

  it('sends the engine every config key, resolved: the train fixture holds exactly the schema keys', () => {
    expect(Object.keys(readRequest('train').config as object)).toEqual(CONFIG_KEYS);
  });

  it.each([
    ['train', 'config.lora_rnak', 16, 'config.lora_rnak', /unrecognized key/i],
    ['train', 'config.seed', undefined, 'config.seed', /expected number/i],
    ['train', 'config.lora_rank', 'auto', 'config.lora_rank', /expected number/i],
    ['train', 'options.targets', undefined, 'options.targets', /expected array/i],
    ['caption', 'options.batch_size', 2.5, 'options.batch_size', /expected int/i],
    ['make-checkpoint', 'options.family', 'sd3', 'options.family', /sd1/],
  ])('refuses a %s request with %s = %j, naming the key', (command, path, value, culprit, message) => {
    const request = changed(command, path, value);
    expect(() => validateEngineRequest(request)).toThrow(
      expect.objectContaining({ code: 'protocol_request_invalid', culprit }),
    );
    expect(() => validateEngineRequest(request)).toThrow(message);
  });

  it('names the list index of a bad nested value', () => {
    const request = readRequest('generate') as { options: { batches: { seeds: unknown[] }[] } };
    request.options.batches[1]!.seeds[0] = 'abc';
    expect(() => validateEngineRequest(request)).toThrow(
      expect.objectContaining({ culprit: 'options.batches[1].seeds[0]' }),
    );
  });

  it('rejects an invalid request before starting the engine', async () => {
    const bad = { command: 'make-checkpoint', options: { family: 'sd1', path: 'x.safetensors', full_size: false } };
    await expect(runEngine(bad as unknown as EngineRequestBody, { env: {} })).rejects.toThrow(ProtocolError);
  });

  it('exports JSON Schemas where every key is required and no other is allowed (the engine has no defaults)', () => {
    const schemas = engineRequestJsonSchemas();
    expect(Object.keys(schemas).sort()).toEqual([
      'caption',
      'doctor',
      'generate',
      'generate-worker',
      'make-checkpoint',
      'render-strengths',
      'train',
    ]);
    const objects = Object.values(schemas).flatMap((schema) => objectsIn(schema));
    expect(objects.length).toBeGreaterThan(15);
    for (const { at, node } of objects) {
      expect({ at, required: node.required }).toEqual({ at, required: Object.keys(node.properties as object) });
      expect({ at, additionalProperties: node.additionalProperties }).toEqual({ at, additionalProperties: false });
    }
  });
});
