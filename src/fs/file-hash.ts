// The sha256 of a file, streamed: base models are gigabytes, and only 64 KiB at a time are in memory.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** Hex sha256 of the whole file (WebUI's `Model hash` is its first 10 digits). Rejects when it cannot be read. */
export function sha256OfFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (data) => hash.update(data))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject);
  });
}
