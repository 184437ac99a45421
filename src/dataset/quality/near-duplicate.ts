// Rule `near-duplicate`: pictures whose perceptual hashes nearly match (the same shot resized, re-encoded, lightly
// edited). Each pair is named; the better picture stays (more pixels, then sharper, then first in path order) and the
// other is excluded, so one scene does not weigh twice in training and a blurred copy never pushes out its original.
import type { Finding, ImageRecord, QualityRule } from '../findings.js';

/** The 64-bit hex hash as two 32-bit halves: popcounts on numbers are far faster than on BigInt for n² pairs. */
function hashHalves(hex: string): [number, number] {
  return [Number.parseInt(hex.slice(0, 8), 16), Number.parseInt(hex.slice(8, 16), 16)];
}

/**
 * Negative when `a` is the better picture to keep: more pixels, then clearly sharper. Sharpness only counts at a ratio
 * over 2: JPEG artefacts make a re-encoded copy measure a little sharper than its original; a blur makes it 10× less.
 */
function qualityOrder(a: ImageRecord, b: ImageRecord): number {
  const byArea = b.width * b.height - a.width * a.height;
  if (byArea !== 0) return byArea;
  const sharpA = a.stats?.sharpness ?? 0;
  const sharpB = b.stats?.sharpness ?? 0;
  if (sharpA > 2 * sharpB) return -1;
  if (sharpB > 2 * sharpA) return 1;
  return 0;
}

function hashDistanceOf(a: [number, number], b: [number, number]): number {
  return bitCount((a[0] ^ b[0]) >>> 0) + bitCount((a[1] ^ b[1]) >>> 0);
}

function bitCount(value: number): number {
  let v = value - ((value >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

export const nearDuplicateRule: QualityRule = {
  name: 'near-duplicate',
  summary: 'near-duplicate pairs (perceptual-hash distance at or below `duplicateDistance`); the later one is excluded',
  check: (records, { thresholds }) => {
    const hashed = records.filter((record): record is ImageRecord & { hash: string } => record.hash !== null);
    const halves = hashed.map((record) => hashHalves(record.hash));
    const betterFirst = hashed.map((_, i) => i).sort((a, b) => qualityOrder(hashed[a]!, hashed[b]!) || a - b);
    const findings: Finding[] = [];
    // Compared with the pictures kept so far only: a copy of an excluded copy is a copy of the kept original.
    const kept: number[] = [];
    for (const candidate of betterFirst) {
      const original = kept.find(
        (earlier) => hashDistanceOf(halves[earlier]!, halves[candidate]!) <= thresholds.duplicateDistance,
      );
      if (original === undefined) {
        kept.push(candidate);
        continue;
      }
      const distance = hashDistanceOf(halves[original]!, halves[candidate]!);
      findings.push({
        image: hashed[candidate]!.image,
        rule: 'near-duplicate',
        severity: 'exclude',
        message: `near-duplicate of ${hashed[original]!.image} (hash distance ${distance} of 64)`,
        hint: `keep one of the two; ${hashed[original]!.image} (larger, clearly sharper or first) stays in the prepared copy`,
      });
    }
    return findings;
  },
};
