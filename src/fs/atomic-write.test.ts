// Atomic writes leave an ordinary file: the umask's mode (0644 under 022, readable by other users), no temp file.
import { mkdtempSync, readdirSync, readFileSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileAtomic, writeThroughTempFile } from './atomic-write.js';

const mode = (path: string) => statSync(path).mode & 0o777;

describe.each([0o022, 0o077, 0o002])('under umask %o', (umask) => {
  let previous: number | undefined;
  afterEach(() => {
    if (previous !== undefined) process.umask(previous);
  });

  it('writeFileAtomic and writeThroughTempFile give 0666 less the umask', () => {
    previous = process.umask(umask);
    const dir = mkdtempSync(join(tmpdir(), 'atomic-write-'));
    writeFileAtomic(join(dir, 'a.json'), '{}');
    writeThroughTempFile(join(dir, 'b.safetensors'), (fd) => writeSync(fd, Buffer.from([1, 2, 3])));
    expect(readdirSync(dir).sort()).toEqual(['a.json', 'b.safetensors']);
    expect([mode(join(dir, 'a.json')), mode(join(dir, 'b.safetensors'))]).toEqual([0o666 & ~umask, 0o666 & ~umask]);
    expect([...readFileSync(join(dir, 'b.safetensors'))]).toEqual([1, 2, 3]);
  });
});
