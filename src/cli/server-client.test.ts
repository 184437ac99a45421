// `--server URL` on the commands against a real studio server on a free port: the job runs there (it is in the
// server's job list), the command prints its id, follows its log and exits as the job ended.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { PACKAGE_ROOT } from '../engine/index.js';
import { LoraScriptsError, UsageError } from '../errors.js';
import { type RunningServer, startServer } from '../server/index.js';
import { autoLabelCommand } from './commands/auto-label.js';
import { generateCommand } from './commands/generate.js';
import { mergeCommand } from './commands/merge.js';
import { prepareCommand } from './commands/prepare.js';
import { trainCommand } from './commands/train.js';
import type { CommandContext } from './context.js';
import { runOnServer } from './server-client.js';
import { ENGINE_TEST_ENV, makeDemoWorkspace } from '../testing/demo-workspace.js';

const FIXTURE_LORA = join(PACKAGE_ROOT, 'tests', 'fixtures', 'lora', 'styles', 'jiangnan_style.safetensors');
const ENV = ENGINE_TEST_ENV;
const TOKEN = 'a-token-of-twenty-chars';

let dir: string;
let workspace: string;
let server: RunningServer;
let url: string;
let ctx: CommandContext;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lora-server-client-'));
  workspace = await makeDemoWorkspace({
    at: join(dir, 'workspace'),
    dataset: 'datasets/demo',
    extraFiles: { 'models/jiangnan_style.safetensors': FIXTURE_LORA },
  });
  server = await startServer({ host: '127.0.0.1', port: 0, workspace, token: TOKEN, env: ENV, log: () => undefined });
  url = server.url; // carries ?token=
  // The client's own folder: paths in a job are the server workspace's, never resolved here.
  ctx = { cwd: dir, env: ENV, verbose: false };
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** Runs a command with stdout and stderr captured. */
async function captured(command: () => Promise<number>) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => stdout.push(String(chunk)) > 0);
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => stderr.push(String(chunk)) > 0);
  try {
    const code = await command();
    return { code, stdout: stdout.join('').split('\n').filter(Boolean), stderr: stderr.join('') };
  } finally {
    vi.restoreAllMocks();
  }
}

async function serverJob(id: string) {
  const response = await fetch(new URL(`/api/jobs/${id}`, url), { headers: { authorization: `Bearer ${TOKEN}` } });
  return (await response.json()) as { kind: string; status: string; outputs: string[] };
}

describe('--server', () => {
  it('merge: runs on the server, prints the job id then the output, and the job is in the studio', async () => {
    const flags = { server: url, out: 'models/merged.safetensors' };
    const run = await captured(() =>
      mergeCommand('models/demo-sd1.safetensors', ['models/jiangnan_style.safetensors:0.8'], flags, ctx),
    );
    expect(run.code).toBe(0);
    const [id, output] = run.stdout;
    expect(output).toBe('models/merged.safetensors');
    expect(existsSync(join(workspace, 'models', 'merged.safetensors'))).toBe(true);
    expect(await serverJob(id!)).toMatchObject({ kind: 'merge', status: 'done', outputs: [output] });
    expect(run.stderr).toContain(`merge job ${id} queued`);
    expect(run.stderr).toContain('merged checkpoint: models/merged.safetensors');
  }, 60_000);

  it('prepare and auto-label: their flags become the job config', async () => {
    const prepared = await captured(() => prepareCommand('datasets/demo', { server: url, target: 64 }, ctx));
    expect(prepared.code).toBe(0);
    expect(prepared.stdout.slice(1)).toEqual([
      'prepared/demo/prepare-report.json',
      'prepared/demo/prepare-report.html',
      'prepared/demo',
    ]);
    const labelled = await captured(() =>
      autoLabelCommand({ server: url, input: 'datasets/demo', triggerWord: 'jn_style', overwrite: true }, ctx),
    );
    expect(labelled.code).toBe(0);
    // The sample dataset has a metadata.csv: the captions go there, as the CLI writes them.
    expect(labelled.stdout.slice(1)).toEqual(['datasets/demo/metadata.csv']);
    expect(labelled.stderr).toContain('wrote 4 captions, kept 0 existing ones');
  }, 60_000);

  it('train: the config file and flags as given, trained by the server', async () => {
    const configFile = join(dir, 'tiny.yaml');
    writeFileSync(
      configFile,
      'train_data_dir: datasets/demo\nbase_model: models/demo-sd1.safetensors\nresolution: 64\nbatch_size: 2\nseed: 1\n',
    );
    const flags = { server: url, config: configFile, outputDir: 'output/tiny', maxTrainSteps: 2, loraRank: 4 };
    const run = await captured(() => trainCommand(flags, ctx));
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('output/tiny/tiny.safetensors');
    expect(run.stderr).toContain('step 2/2');
  }, 200_000);

  it('generate: renders on the server into the folder given', async () => {
    const flags = {
      server: url,
      prompt: ['canal town'],
      baseModel: 'models/demo-sd1.safetensors',
      seed: 1,
      steps: 2,
      width: 64,
      height: 64,
      out: 'pictures',
    };
    const run = await captured(() => generateCommand(flags, ctx));
    expect(run.code).toBe(0);
    expect(run.stdout.slice(1)).toHaveLength(1);
    expect(run.stdout[1]).toMatch(/^pictures\/.+\.png$/);
  }, 200_000);

  it('fails as the job failed, with its error', async () => {
    const flags = { server: url, out: 'models/never.safetensors' };
    const run = captured(() =>
      mergeCommand('models/jiangnan_style.safetensors', ['models/jiangnan_style.safetensors'], flags, ctx),
    );
    await expect(run).rejects.toThrow(/models\/jiangnan_style\.safetensors: .*LoRA/);
    await expect(run).rejects.toBeInstanceOf(LoraScriptsError);
  }, 60_000);

  it('says what the server refused: a bad config by its field, a missing token, a flag that only runs here', async () => {
    await expect(captured(() => prepareCommand('datasets/none', { server: url }, ctx))).rejects.toThrow(
      /the server refused the job: config\.dataset/,
    );
    const noToken = runOnServer({
      server: url.replace(/\?token=.*$/, ''),
      kind: 'merge',
      config: {},
      print: () => undefined,
      log: () => undefined,
    });
    await expect(noToken).rejects.toMatchObject({ culprit: '--token' });
    await expect(captured(() => prepareCommand('datasets/demo', { server: url, json: true }, ctx))).rejects.toThrow(
      UsageError,
    );
    const unreachable = runOnServer({ server: 'http://127.0.0.1:1', kind: 'merge', config: {}, log: () => undefined });
    await expect(unreachable).rejects.toMatchObject({ code: 'server_unreachable', culprit: '--server' });
  }, 60_000);
});
