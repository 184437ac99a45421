// Which pictures are held out of training for the validation loss, pure: a seeded share of the dataset.

/** FNV-1a: a stable 32-bit hash, so the same seed holds out the same pictures on every machine. */
function stableHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

export interface ValidationSplit<T> {
  training: T[];
  validation: T[];
}

/**
 * Holds out `share` of the pictures (at least one when `share` > 0, and never all of them). The choice depends on
 * the seed and each picture's path, not on the folder order, so adding a picture moves few others.
 */
export function splitForValidation<T extends { relPath: string }>(
  items: T[],
  share: number,
  seed: number,
): ValidationSplit<T> {
  if (share <= 0 || items.length < 2) return { training: items, validation: [] };
  const count = Math.min(items.length - 1, Math.max(1, Math.round(items.length * share)));
  const ranked = [...items].sort((a, b) => stableHash(`${seed}:${a.relPath}`) - stableHash(`${seed}:${b.relPath}`));
  const heldOut = new Set(ranked.slice(0, count));
  return {
    training: items.filter((item) => !heldOut.has(item)),
    validation: items.filter((item) => heldOut.has(item)),
  };
}
