// The name a downloaded LoRA is saved under and the Content-Disposition header that carries it. Pure.
import type { LoraKeyFormat } from './lora-entry.js';

/**
 * The file's own name when it is sent as it is; `<stem>-<format>.safetensors` for a converted copy, so it never
 * lands on top of the original in the user's downloads folder.
 */
export function downloadName(fileName: string, convertedTo: LoraKeyFormat | null): string {
  if (convertedTo === null) return fileName;
  const stem = fileName.replace(/\.safetensors$/i, '');
  return `${stem}-${convertedTo}.safetensors`;
}

/**
 * `attachment; filename="…"; filename*=UTF-8''…` (RFC 6266 with RFC 5987 encoding): browsers take `filename*`, so
 * `江南.safetensors` keeps its name; the plain `filename` is an ASCII stand-in for old clients.
 */
export function contentDisposition(fileName: string): string {
  const fallback = fileName.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encodeRfc5987(fileName)}`;
}

/** Percent-encodes all but RFC 5987's attr-chars (`encodeURIComponent` leaves `'()*` too, which it must not). */
function encodeRfc5987(value: string): string {
  return encodeURIComponent(value).replace(/['()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
}
