// Content-addressed storage on a real folder: the path is the bytes' sha256, a second store of the same bytes reuses the
// file, and writers in separate processes racing on the same bytes write each file exactly once, whole.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { artifactPath, storeContentAddressed, writeFileAtomic } from './index.js';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const ROOT = resolve(import.meta.dirname, '..', '..');

/** Every file under `dir`, relative, `/`-separated. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
    .sort();
}

describe('artifacts', () => {
  it('names a file by its sha256, fanned out by its first two hex digits', () => {
    const root = mkdtempSync(join(tmpdir(), 'artifacts-'));
    const bytes = Buffer.from('a cover');
    const hash = sha256(bytes);
    const stored = storeContentAddressed(root, bytes, 'png');
    expect(stored).toEqual({ path: `artifacts/${hash.slice(0, 2)}/${hash}.png`, sha256: hash, created: true });
    expect(readFileSync(join(root, stored.path))).toEqual(bytes);
    expect(filesUnder(root)).toEqual([stored.path]);
  });

  it('reuses an existing file with the same bytes and never rewrites it', () => {
    const root = mkdtempSync(join(tmpdir(), 'artifacts-'));
    const bytes = Buffer.from('the same bytes twice');
    const first = storeContentAddressed(root, bytes, 'png');
    const inode = statSync(join(root, first.path)).ino;
    const second = storeContentAddressed(root, bytes, 'png');
    expect(second).toEqual({ ...first, created: false });
    expect(statSync(join(root, first.path)).ino).toBe(inode);
    const other = storeContentAddressed(root, Buffer.from('other bytes'), 'png');
    expect(other.created).toBe(true);
    expect(other.path).not.toBe(first.path);
  });

  it('refuses an extension that is not a plain short word', () => {
    expect(() => artifactPath('a'.repeat(64), '../png')).toThrow(/not a file extension/);
    expect(() => artifactPath('a'.repeat(64), '.png')).toThrow(/not a file extension/);
    expect(artifactPath('a'.repeat(64), 'safetensors')).toBe(`artifacts/aa/${'a'.repeat(64)}.safetensors`);
  });

  it('writes each file exactly once when three processes store the same 60 payloads at the same time', async () => {
    const root = mkdtempSync(join(tmpdir(), 'artifacts-race-'));
    const go = join(root, 'go');
    const payloads = Array.from({ length: 60 }, (_, i) => Buffer.alloc(64 * 1024 + i, i));
    // Each writer waits for the `go` file, so all three store the same payloads in the same order at once.
    const script = `
      import { existsSync } from 'node:fs';
      import { storeContentAddressed } from './src/artifacts/index.ts';
      while (!existsSync(${JSON.stringify(go)})) await new Promise((r) => setTimeout(r, 5));
      const created = [];
      for (let i = 0; i < 60; i++) {
        if (storeContentAddressed(${JSON.stringify(root)}, Buffer.alloc(64 * 1024 + i, i), 'bin').created) created.push(i);
      }
      console.log(JSON.stringify(created));`;
    const writers = [1, 2, 3].map(
      () =>
        new Promise<number[]>((done, fail) => {
          const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
            cwd: ROOT,
          });
          let out = '';
          let err = '';
          child.stdout.on('data', (chunk) => (out += chunk));
          child.stderr.on('data', (chunk) => (err += chunk));
          child.on('close', (code) =>
            code === 0 ? done(JSON.parse(out)) : fail(new Error(`writer exit ${code}: ${err}`)),
          );
        }),
    );
    // Give the three processes time to load, then release them together (a late one only makes the race milder).
    await new Promise((r) => setTimeout(r, 1500));
    writeFileSync(go, '');
    const created = await Promise.all(writers);
    // Each payload was created by exactly one writer; the others found it and reused it.
    expect(created.flat().sort((a, b) => a - b)).toEqual(payloads.map((_, i) => i));
    const expected = payloads.map((bytes) => artifactPath(sha256(bytes), 'bin'));
    expect(filesUnder(root)).toEqual(['go', ...expected].sort());
    for (const [i, path] of expected.entries()) expect(readFileSync(join(root, path)).equals(payloads[i]!)).toBe(true);
  }, 60_000);

  it('writeFileAtomic replaces a file whole and leaves no temp file', () => {
    const root = mkdtempSync(join(tmpdir(), 'artifacts-atomic-'));
    writeFileAtomic(join(root, 'covers', 'cover.json'), '{"n":1}');
    writeFileAtomic(join(root, 'covers', 'cover.json'), '{"n":2}');
    expect(readFileSync(join(root, 'covers', 'cover.json'), 'utf8')).toBe('{"n":2}');
    expect(filesUnder(root)).toEqual(['covers/cover.json']);
  });
});
