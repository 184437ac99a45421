// Where a content-addressed artifact lives: `artifacts/<sha256[0:2]>/<sha256>.<ext>`. Pure: the shell (store.ts) hashes
// and writes. The two-letter fan-out keeps any one folder small on shared storage (NFS lists big folders slowly).
import { UsageError } from '../errors.js';

/** The folder under the shared root that content-addressed files go to. */
export const ARTIFACTS_FOLDER = 'artifacts';

const SHA256_HEX = /^[0-9a-f]{64}$/;
const EXTENSION = /^[a-z0-9]{1,16}$/;

/** Root-relative and `/`-separated. @example artifactPath('ab12…', 'png') → 'artifacts/ab/ab12….png' */
export function artifactPath(sha256: string, ext: string): string {
  if (!SHA256_HEX.test(sha256)) throw new Error(`not a lower-case hex sha256: \`${sha256}\``); // our bug, not input
  if (!EXTENSION.test(ext)) {
    throw new UsageError(`\`${ext}\` is not a file extension artifacts are stored under`, {
      code: 'bad_artifact_extension',
      culprit: 'ext',
      hint: 'give a short lower-case extension without its dot, such as `png` or `safetensors`',
    });
  }
  return `${ARTIFACTS_FOLDER}/${sha256.slice(0, 2)}/${sha256}.${ext}`;
}
