// The `sshs_model_hash` / `sshs_legacy_hash` that A1111 shows for a LoRA (docs/formats/ss-metadata.md §4),
// computed over the exact bytes written. Pure (hashing is computation, not I/O).
import { createHash } from 'node:crypto';
import { readHeaderSize, serializeSafetensors, type SafetensorsContent } from './safetensors.js';

/** A1111's old hash reads only these bytes of a file: the 64 KiB at offset 1 MiB. */
export const LEGACY_WINDOW = { start: 0x100000, end: 0x110000 } as const;

/** "addnet hash": sha256 of the data buffer only (everything after the header), so metadata edits keep it. */
export function addnetHash(fileBytes: Uint8Array, fileName = '<bytes>'): string {
  const headerSizeBytes = readHeaderSize(fileBytes.subarray(0, 8), fileBytes.length, fileName);
  return sha256(fileBytes.subarray(8 + headerSizeBytes));
}

/** A1111's old hash: sha256 of the 64 KiB at offset 1 MiB (empty for a smaller file), first 8 hex digits. */
export function legacyHash(fileBytes: Uint8Array): string {
  return sha256(fileBytes.subarray(LEGACY_WINDOW.start, LEGACY_WINDOW.end)).slice(0, 8);
}

/** The legacy hash of a file streamed in order, chunk by chunk: only the bytes inside the window are hashed. */
export function createLegacyHasher(): { update(bytes: Uint8Array): void; digest(): string } {
  const hash = createHash('sha256');
  let position = 0;
  return {
    update(bytes) {
      const [from, to] = [
        Math.max(position, LEGACY_WINDOW.start),
        Math.min(position + bytes.length, LEGACY_WINDOW.end),
      ];
      if (from < to) hash.update(bytes.subarray(from - position, to - position));
      position += bytes.length;
    },
    digest: () => hash.digest('hex').slice(0, 8),
  };
}

export interface HashedFile {
  bytes: Buffer;
  modelHash: string;
  legacyHash: string;
}

/**
 * Serializes with both hashes at the front of `__metadata__`, then fills them in. Placeholders of the final length
 * keep the layout fixed, and near the start of the header they lie outside both hashed ranges (the data buffer,
 * and the window at 1 MiB), so the stored values are the hashes of the file as written. Any `sshs_*` values in
 * `content.metadata` are replaced.
 */
export function serializeWithSshsHashes(content: SafetensorsContent): HashedFile {
  const bytes = serializeSafetensors({ metadata: withSshsPlaceholders(content.metadata), tensors: content.tensors });
  const modelHash = addnetHash(bytes);
  const legacy = legacyHash(bytes);
  fillPlaceholder(bytes, 'sshs_model_hash', modelHash);
  fillPlaceholder(bytes, 'sshs_legacy_hash', legacy);
  return { bytes, modelHash, legacyHash: legacy };
}

/** `metadata` with zero-filled `sshs_*` entries first (any old values dropped), for `fillPlaceholder` to overwrite. */
export function withSshsPlaceholders(metadata: Record<string, string>): Record<string, string> {
  const rest = Object.entries(metadata).filter(([key]) => key !== 'sshs_model_hash' && key !== 'sshs_legacy_hash');
  return { sshs_model_hash: '0'.repeat(64), sshs_legacy_hash: '0'.repeat(8), ...Object.fromEntries(rest) };
}

/** Writes a hash into its placeholder in serialized bytes (a whole file, or just its header). */
export function fillPlaceholder(bytes: Buffer, key: string, value: string): void {
  // JSON escapes every quote inside keys and values, so this exact run of bytes can only be the entry itself.
  const entry = `"${key}":"${'0'.repeat(value.length)}"`;
  const at = bytes.indexOf(entry, 8, 'latin1');
  // Only JS's integer-like keys ("1", "2") can precede ours; a megabyte of them would move us into the window.
  if (at < 0 || at + entry.length > LEGACY_WINDOW.start) {
    throw new Error(`internal: the ${key} placeholder is not where it must be (byte ${at})`);
  }
  bytes.write(value, at + key.length + 4, 'latin1');
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
