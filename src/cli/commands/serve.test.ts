// `lora-scripts serve` through the built CLI (`npm run build` first): flag errors, and a real start and Ctrl-C.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { freePort } from '../../testing/free-port.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../engine/paths.js';

const BIN = join(PACKAGE_ROOT, 'bin', 'lora-scripts.mjs');

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'serve-cli-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('lora-scripts serve', () => {
  it('fails on `--port abc` with one line naming --port, before creating the workspace', () => {
    const result = spawnSync('node', [BIN, 'serve', '--port', 'abc'], { cwd: dir, encoding: 'utf8' });
    expect([result.status, result.stdout]).toEqual([2, '']);
    expect(result.stderr.split('\n')[0]).toBe('error: --port: must be an integer from 0 to 65535, got `"abc"`');
    expect(existsSync(join(dir, 'workspace'))).toBe(false);
  });

  it('refuses a non-loopback host with a short token, naming the token', () => {
    const result = spawnSync('node', [BIN, 'serve', '--host', '0.0.0.0', '--token', 'abc'], {
      cwd: dir,
      encoding: 'utf8',
    });
    expect(result.status).toBe(2);
    expect(result.stderr.split('\n')[0]).toBe('error: token: the token has 3 characters, fewer than 16');
  });

  it('serves the API until Ctrl-C, then exits 0', async () => {
    const port = await freePort();
    const child = spawn('node', [BIN, 'serve', '--port', String(port), '--workspace', 'ws'], { cwd: dir });
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    try {
      let stdout = '';
      await new Promise<void>((done, fail) => {
        child.stdout.setEncoding('utf8');
        child.stdout.on('data', (chunk: string) => {
          stdout += chunk;
          if (stdout.includes('Ctrl-C stops the server')) done();
        });
        child.on('exit', () => fail(new Error(`serve exited early: ${stdout}`)));
      });
      expect(stdout).toContain(`lora-scripts studio on http://127.0.0.1:${port}/ (workspace ${join(dir, 'ws')})`);

      const response = await fetch(`http://127.0.0.1:${port}/api/version`);
      expect(response.status).toBe(200);
      expect(((await response.json()) as { name: string }).name).toBe('lora-scripts');
      expect(existsSync(join(dir, 'ws', '.lora-scripts', 'studio.db'))).toBe(true);

      child.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      // A failed assertion above must not leave the server running.
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
