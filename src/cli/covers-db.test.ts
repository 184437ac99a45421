// `lora-scripts covers --db postgres://…`: the place's style comes from the library in PostgreSQL (the versions' files
// in the workspace), rendered by the real render worker on the demo base model; the workspace's SQLite file is never
// made, and without `--db` the same place is not mapped (that library is another one).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CoverResult } from '../covers/index.js';
import { PACKAGE_ROOT } from '../engine/index.js';
import { openLibrary } from '../library/index.js';
import { closeDatabases, STORE_FILE } from '../store/index.js';
import { type PostgresServer, startPostgresServer } from '../testing/postgres-server.js';
import { coversCommand } from './commands/covers.js';
import type { CommandContext } from './context.js';

const BASE_MODEL = join(PACKAGE_ROOT, 'models', 'demo-sd1.safetensors');
const JIANGNAN = join(PACKAGE_ROOT, 'tests', 'fixtures', 'lora', 'styles', 'jiangnan_style.safetensors');
// One torch thread: the test machine is shared (see src/generate/run.test.ts).
const ctx: CommandContext = { cwd: '/', env: { ...process.env, OMP_NUM_THREADS: '1' }, verbose: false };
const REQUEST = { province: '浙江', title: '江南水乡', prompt: 'a stone bridge', n: 1, size: '64x64' };

let server: PostgresServer;
let db: string;
let workspace: string;

beforeAll(async () => {
  server = await startPostgresServer();
  db = await server.createDatabase();
  workspace = mkdtempSync(join(tmpdir(), 'covers-db-'));
  const library = await openLibrary({ kind: 'postgres', url: db }, { workspace });
  await library.addVersion({ style: 'jiangnan_style', file: JIANGNAN, strength: 0.8, base_model: BASE_MODEL });
  await library.changeStatus('jiangnan_style', 1, 'promote');
  await library.setRegion({ level: 'province', place: '浙江', style: 'jiangnan_style' });
  await library.close();
  await closeDatabases();
});

afterAll(async () => {
  await server.stop();
  rmSync(workspace, { recursive: true, force: true });
});

describe('lora-scripts covers --db', () => {
  it('renders in the style the PostgreSQL library maps the place to, and makes no workspace SQLite file', async () => {
    const printed: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      printed.push(String(chunk));
      return true;
    });
    try {
      expect(await coversCommand({ ...REQUEST, workspace, db, json: true }, ctx)).toBe(0);
    } finally {
      spy.mockRestore();
    }
    const result = JSON.parse(printed.join('')) as CoverResult;
    expect(result).toMatchObject({ style: 'jiangnan_style', version: 1, matched: 'province', cached: false });
    expect(result.covers).toHaveLength(1);
    expect(existsSync(join(workspace, result.covers[0]!.path))).toBe(true);
    expect(existsSync(join(workspace, ...STORE_FILE))).toBe(false);

    await expect(coversCommand({ ...REQUEST, workspace }, ctx)).rejects.toMatchObject({ code: 'place_not_mapped' });
  }, 300_000);
});
