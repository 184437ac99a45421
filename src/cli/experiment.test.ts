// `lora-scripts experiment` on a temp workspace: the command functions called as main.ts calls them, stdout captured.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { LoraScriptsError } from '../errors.js';
import { experimentReportSchema } from '../experiments/index.js';
import { type PostgresServer, startPostgresServer } from '../testing/postgres-server.js';
import { experimentCommand } from './commands/experiment.js';

let dir: string;
let printed: string[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cli-experiment-'));
  printed = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    printed.push(String(chunk));
    return true;
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

const ctx = () => ({ cwd: dir, env: {}, verbose: false });
async function run(action: string, args: string[], flags: Record<string, unknown> = {}) {
  printed = [];
  const code = await experimentCommand(action, args, flags, ctx());
  return { code, out: printed.join('') };
}

describe('lora-scripts experiment', () => {
  it('create → assign → ingest (twice) → import → report, as text, JSON and CSV', async () => {
    const created = await run('create', ['covers'], {
      arm: ['generic:1', 'regional:1:jiangnan_style:0.7'],
      baselineCtr: 0.05,
      lift: 0.23,
    });
    expect(created.out).toContain('regional: weight 1, jiangnan_style, strength 0.7');
    expect(created.out).toContain('plan: 6248 control users');

    const assigned = await run('assign', ['covers', 'u1', 'u2'], { json: true });
    const arms = JSON.parse(assigned.out) as { user_id: string; arm: string }[];
    expect(arms.map((each) => each.user_id)).toEqual(['u1', 'u2']);

    const events = join(dir, 'events.jsonl');
    writeFileSync(
      events,
      [
        '{"type":"exposure","event_id":"e1","user_id":"u1","at":"2026-12-01T08:00:00Z"}',
        '{"type":"click","event_id":"c1","user_id":"u1","at":"2026-12-01T08:01:00Z"}',
        '',
      ].join('\n'),
    );
    expect((await run('ingest', ['covers'], { file: 'events.jsonl' })).out).toBe(
      '2 events stored, 0 seen before (unchanged)\n',
    );
    expect((await run('ingest', ['covers'], { file: 'events.jsonl' })).out).toBe(
      '0 events stored, 2 seen before (unchanged)\n',
    );

    writeFileSync(
      join(dir, 'counts.csv'),
      'day,arm,users,clicks\n2026-12-02,generic,7000,350\n2026-12-02,regional,7000,430\n',
    );
    expect((await run('import', ['covers'], { file: 'counts.csv' })).out).toBe('2 rows of daily counts imported\n');

    const text = await run('report', ['covers']);
    expect(text.out).toMatch(/verdict: ship \(regional\)/);
    const json = experimentReportSchema.parse(JSON.parse((await run('report', ['covers'], { json: true })).out));
    expect(json.overall.arms.map((arm) => arm.users)).toEqual([
      7000 + (arms[0]!.arm === 'generic' ? 1 : 0),
      7000 + (arms[0]!.arm === 'regional' ? 1 : 0),
    ]);
    await run('report', ['covers'], { csv: true, out: 'report.csv' });
    expect(readFileSync(join(dir, 'report.csv'), 'utf8')).toMatch(/^segment,arm,users,clicks,ctr/);
    expect((await run('list', [])).out).toBe('covers\tgeneric:1 regional:1\n');
  });

  it('simulate replays synthetic users with the given CTRs and prints the report', async () => {
    await run('create', ['sim'], { arm: ['generic:1', 'regional:1'] });
    const flags = { ctr: ['generic=0.05', 'regional=0.08'], days: 7, usersPerDay: 1000, seed: 1, segment: [] };
    const { out } = await run('simulate', ['sim'], flags);
    expect(out).toMatch(/^\d+ synthetic events stored \(7 days × 1000 users\)\n/);
    expect(out).toMatch(/verdict: ship \(regional\)/);
    await expect(run('simulate', ['sim'], { ...flags, ctr: ['other=0.1'] })).rejects.toMatchObject({
      culprit: '--ctr',
    });
  });

  it('plan prints the users for a lift', async () => {
    const { out } = await run('plan', [], { baselineCtr: 0.05, lift: 0.1 });
    expect(out).toMatch(
      /^31234 control \+ 31234 treatment users detect a 10\.0 % lift on a 5\.00 % CTR with 80\.0 % power/,
    );
  });

  it('names the line and column of a bad CSV, and an unknown experiment', async () => {
    await run('create', ['covers'], { arm: ['a:1', 'b:1'] });
    writeFileSync(join(dir, 'bad.csv'), 'day,arm,users,clicks\n2026-12-01,a,ten,1\n');
    const error = await run('import', ['covers'], { file: 'bad.csv' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(LoraScriptsError);
    expect((error as LoraScriptsError).line).toBe('line 2, column `users`: must be a whole number ≥ 0, got "ten"');
    await expect(run('report', ['nope'])).rejects.toMatchObject({ code: 'experiment_not_found' });
    await expect(run('create', ['x'], { arm: ['a'] })).rejects.toMatchObject({ culprit: '--arm' });
  });
});

describe('lora-scripts experiment --db postgres://…', () => {
  let server: PostgresServer;

  beforeAll(async () => {
    server = await startPostgresServer();
  });
  afterAll(() => server.stop(), 30_000);

  it('creates, ingests and reports in PostgreSQL, and makes no SQLite file in the workspace', async () => {
    const db = await server.createDatabase();
    await run('create', ['covers'], { arm: ['generic:1', 'regional:1'], db });
    writeFileSync(
      join(dir, 'events.jsonl'),
      '{"type":"exposure","event_id":"e1","user_id":"u1","at":"2026-12-01T08:00:00Z","arm":"regional"}\n',
    );
    expect((await run('ingest', ['covers'], { file: 'events.jsonl', db })).out).toBe(
      '1 events stored, 0 seen before (unchanged)\n',
    );
    expect((await run('ingest', ['covers'], { file: 'events.jsonl', db })).out).toBe(
      '0 events stored, 1 seen before (unchanged)\n',
    );
    expect((await run('list', [], { db })).out).toBe('covers\tgeneric:1 regional:1\n');
    const report = experimentReportSchema.parse(JSON.parse((await run('report', ['covers'], { json: true, db })).out));
    expect(report.overall.arms.map((arm) => [arm.arm, arm.users])).toEqual([
      ['generic', 0],
      ['regional', 1],
    ]);
    expect(existsSync(join(dir, 'workspace', '.lora-scripts', 'studio.db'))).toBe(false);
    // the workspace's own store has none of it
    expect((await run('list', [])).out).not.toContain('covers');
  });
});
