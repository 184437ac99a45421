// `library` and `region` commands on a real workspace: what they print, what they store, and their usage errors.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { PACKAGE_ROOT } from '../../engine/index.js';
import { openSqliteLibrary } from '../../library/index.js';
import { readSafetensors, writeSafetensorsAtomic } from '../../lora/index.js';
import { openSqliteStore } from '../../store/index.js';
import { type PostgresServer, startPostgresServer } from '../../testing/postgres-server.js';
import type { CommandContext } from '../context.js';
import { libraryCommand, regionCommand } from './library.js';

const FIXTURE = join(PACKAGE_ROOT, 'tests', 'fixtures', 'lora', 'kohya-sd1-tiny.safetensors');

let cwd: string;
let ctx: CommandContext;
let printed: string[];

beforeEach(() => {
  cwd = mkdtempSync(join(tmpdir(), 'lora-library-cli-'));
  mkdirSync(join(cwd, 'output'));
  copyFileSync(FIXTURE, join(cwd, 'output', 'jiangnan.safetensors'));
  ctx = { cwd, env: process.env, verbose: false };
  printed = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    printed.push(String(chunk).trimEnd());
    return true;
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  rmSync(cwd, { recursive: true, force: true });
});

const library = (action: string, args: string[], flags: Record<string, unknown> = {}) =>
  libraryCommand(action, args, flags, ctx);
const region = (action: string, args: string[], flags: Record<string, unknown> = {}) =>
  regionCommand(action, args, flags, ctx);

describe('library', () => {
  it('adds, dedupes, promotes, lists and shows', async () => {
    await library('add', ['output/jiangnan.safetensors'], { style: 'jiangnan_style', strength: 0.7, tag: ['water'] });
    expect(printed[0]).toMatch(/^jiangnan_style v1 \(draft\): library\/[0-9a-f]{64}\.safetensors$/);
    expect(printed[1]).toBe('promote it with `lora-scripts library promote jiangnan_style 1`');
    await library('add', ['output/jiangnan.safetensors'], { style: 'jiangnan_style' });
    expect(printed[2]).toMatch(/^jiangnan_style v1 \(draft, already in the library\)/);
    await library('promote', ['jiangnan_style', '1']);
    await library('list', []);
    await library('show', ['jiangnan_style']);
    expect(printed.slice(3)).toEqual([
      'jiangnan_style v1: promoted',
      'jiangnan_style  1 version, v1 promoted',
      'jiangnan_style',
      expect.stringMatching(/^ {2}v1 {2}[0-9a-f]{12} {2}promoted · strength 0\.7 · 500 steps · tags water$/),
    ]);
  });

  it('folds in a continuation the studio finished before it lists', async () => {
    await library('add', ['output/jiangnan.safetensors'], { style: 's' });
    await library('promote', ['s', '1']);
    const storeFile = join(cwd, 'workspace', '.lora-scripts', 'studio.db');
    const jobs = openSqliteStore(storeFile);
    const lib = openSqliteLibrary(storeFile);
    const job = await jobs.createJob({ kind: 'train', device: 'default', config: {} });
    await lib.recordContinuation(job.id, 's', 1);
    const content = await readSafetensors(FIXTURE);
    await writeSafetensorsAtomic(join(cwd, 'workspace', 'output', 'next.safetensors'), {
      metadata: { ...content.metadata, next: '1' },
      tensors: content.tensors,
    });
    await jobs.claimNextQueued('default');
    await jobs.applyEvent(job.id, { type: 'finish', outputs: ['output/next.safetensors'] });
    await lib.close();
    await jobs.close();
    const notes: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      notes.push(String(chunk).trimEnd());
      return true;
    });
    printed.length = 0;
    await library('list', []);
    expect(notes).toEqual(['s v2: added from a finished continuation (a draft)']);
    expect(printed).toEqual(['s  2 versions, v1 promoted']);
  });

  it('keeps its data in the workspace the flag names (default `workspace`)', async () => {
    await library('add', ['output/jiangnan.safetensors'], { style: 's', workspace: 'studio' });
    printed.length = 0;
    await library('list', [], { json: true });
    expect(JSON.parse(printed[0]!)).toEqual({ styles: [] });
    await library('list', [], { workspace: 'studio', json: true });
    expect(JSON.parse(printed[1]!).styles).toEqual([expect.objectContaining({ name: 's', versions: 1 })]);
  });

  it('refuses a missing style flag, a missing argument, a bad number and an unknown action', async () => {
    await expect(library('add', ['output/jiangnan.safetensors'])).rejects.toThrow('`--style NAME` is required');
    await expect(library('show', [])).rejects.toThrow('`STYLE` is missing');
    await expect(library('promote', ['s', 'one'])).rejects.toThrow('`one` is not a number');
    await expect(library('frob', [])).rejects.toMatchObject({
      message: '`frob` is not an action',
      hint: 'use one of `library add`, `library list`, `library show`, `library promote`, `library retire`, `library template`',
    });
  });
});

describe('region', () => {
  it('sets rules, resolves with fallbacks and windows, lists and removes', async () => {
    await library('add', ['output/jiangnan.safetensors'], { style: 'jiangnan_style', strength: 0.7 });
    await library('promote', ['jiangnan_style', '1']);
    printed.length = 0;
    await region('set', [], { province: 'Zhejiang', style: 'jiangnan_style' });
    await region('set', [], { default: true, style: 'jiangnan_style', from: '2026-07-01', until: '2026-07-15' });
    expect(printed).toEqual([
      '#1  province Zhejiang → jiangnan_style',
      '#2  default → jiangnan_style  from 2026-07-01T00:00:00.000Z until 2026-07-15T00:00:00.000Z',
    ]);
    printed.length = 0;
    await region('resolve', [], { city: 'Hangzhou', province: 'zhejiang' });
    await region('resolve', [], { city: 'Lhasa', at: '2026-07-02' });
    await region('resolve', [], { city: 'Lhasa', at: '2026-08-02' });
    expect(printed[0]).toMatch(/^jiangnan_style v1 at strength 0\.7 \(matched by province\): library\//);
    expect(printed[1]).toMatch(/\(matched by default\)/);
    expect(printed[2]).toBe('no rule applies (add a default with `lora-scripts region set --default --style STYLE`)');
    await region('remove', ['1']);
    printed.length = 0;
    await region('list', []);
    expect(printed).toEqual([
      '#2  default → jiangnan_style  from 2026-07-01T00:00:00.000Z until 2026-07-15T00:00:00.000Z',
    ]);
  });

  it('needs exactly one place flag and a style', async () => {
    await expect(region('set', [], { city: 'A', province: 'B', style: 's' })).rejects.toThrow(
      'give exactly one of `--city`, `--province`, `--region`, `--default`',
    );
    await expect(region('set', [], { city: 'A' })).rejects.toThrow('`--style NAME` is required');
    await expect(region('remove', ['7'])).rejects.toMatchObject({ code: 'region_not_found' });
  });
});

describe('--db postgres://…', () => {
  let server: PostgresServer;
  let db: string;

  beforeAll(async () => {
    server = await startPostgresServer();
  });
  afterAll(() => server.stop(), 30_000);
  beforeEach(async () => {
    db = await server.createDatabase();
  });

  it('keeps the library and its rules in PostgreSQL, the files in the workspace, and makes no SQLite file', async () => {
    await library('add', ['output/jiangnan.safetensors'], { style: 'jiangnan_style', strength: 0.7, db });
    await library('promote', ['jiangnan_style', '1'], { db });
    await region('set', [], { province: 'Zhejiang', style: 'jiangnan_style', db });
    printed.length = 0;
    await library('list', [], { db });
    await region('list', [], { db });
    await region('resolve', [], { province: 'zhejiang', db });
    expect(printed).toEqual([
      'jiangnan_style  1 version, v1 promoted',
      '#1  province Zhejiang → jiangnan_style',
      expect.stringMatching(/^jiangnan_style v1 at strength 0\.7 \(matched by province\): library\/[0-9a-f]{64}/),
    ]);
    const [, path] = printed[2]!.split(': ');
    expect(existsSync(join(cwd, 'workspace', path!))).toBe(true);
    expect(existsSync(join(cwd, 'workspace', '.lora-scripts', 'studio.db'))).toBe(false);
    // another database is another library
    printed.length = 0;
    await library('list', [], { db: await server.createDatabase(), json: true });
    expect(JSON.parse(printed[0]!)).toEqual({ styles: [] });
  });
});
