// Public API of the artifacts area: files on the shared storage every studio and worker mounts (docs/scale-out.md),
// written so that a crash or a second writer never leaves a torn or overwritten file.
/**
 * `storeContentAddressed(root, bytes, 'png')` → `{path: 'artifacts/ab/ab12….png', sha256, created}`: named by content,
 * written once (an existing file with those bytes is reused). `writeFileAtomic(path, bytes)`: a file that has one name
 * whatever its content (a manifest) — temp file in the same folder, fsync, rename; readers see old or new, never half.
 */
export { type StoredArtifact, storeContentAddressed } from './store.js';
export { ARTIFACTS_FOLDER, artifactPath } from './core.js';
export { writeFileAtomic } from '../fs/atomic-write.js';
