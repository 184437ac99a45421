// The `sshs_model_hash` / `sshs_legacy_hash` that A1111 shows for a LoRA (kohya-lora-format.md §7), computed over
// the exact bytes written. Pure (hashing is computation, not I/O).
import { createHash } from 'node:crypto';
import { readHeaderSize, serializeSafetensors, type SafetensorsContent } from './safetensors.js';

const LEGACY_WINDOW = { start: 0x100000, end: 0x110000 } as const;

/** "addnet hash": sha256 of the data buffer only (everything after the header), so metadata edits keep it. */
export function addnetHash(fileBytes: Uint8Array, fileName = '<bytes>'): string {
  const headerSizeBytes = readHeaderSize(fileBytes.subarray(0, 8), fileBytes.length, fileName);
  return sha256(fileBytes.subarray(8 + headerSizeBytes));
}

/** A1111's old hash: sha256 of the 64 KiB at offset 1 MiB (empty for a smaller file), first 8 hex digits. */
export function legacyHash(fileBytes: Uint8Array): string {
  return sha256(fileBytes.subarray(LEGACY_WINDOW.start, LEGACY_WINDOW.end)).slice(0, 8);
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
  const rest = Object.entries(content.metadata).filter(([key]) => key !== 'sshs_model_hash' && key !== 'sshs_legacy_hash');
  const metadata = { sshs_model_hash: '0'.repeat(64), sshs_legacy_hash: '0'.repeat(8), ...Object.fromEntries(rest) };
  const bytes = serializeSafetensors({ metadata, tensors: content.tensors });
  const modelHash = addnetHash(bytes);
  const legacy = legacyHash(bytes);
  fillPlaceholder(bytes, 'sshs_model_hash', modelHash);
  fillPlaceholder(bytes, 'sshs_legacy_hash', legacy);
  return { bytes, modelHash, legacyHash: legacy };
}

function fillPlaceholder(bytes: Buffer, key: string, value: string): void {
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
