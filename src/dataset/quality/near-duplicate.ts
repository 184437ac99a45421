// Rule `near-duplicate`: pictures whose perceptual hashes nearly match (the same shot resized, re-encoded, lightly
// edited). Each pair is named; the first picture (in path order) stays, the later one is excluded, so one scene does
// not weigh twice in training.
import type { Finding, ImageRecord, QualityRule } from '../findings.js';

/** The 64-bit hex hash as two 32-bit halves: popcounts on numbers are far faster than on BigInt for n² pairs. */
function hashHalves(hex: string): [number, number] {
  return [Number.parseInt(hex.slice(0, 8), 16), Number.parseInt(hex.slice(8, 16), 16)];
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
    const findings: Finding[] = [];
    // Compared with the pictures kept so far only: a copy of an excluded copy is a copy of the kept original.
    const kept: number[] = [0];
    for (let later = 1; later < hashed.length; later++) {
      const original = kept.find((earlier) => hashDistanceOf(halves[earlier]!, halves[later]!) <= thresholds.duplicateDistance);
      if (original === undefined) {
        kept.push(later);
        continue;
      }
      const distance = hashDistanceOf(halves[original]!, halves[later]!);
      findings.push({
        image: hashed[later]!.image,
        rule: 'near-duplicate',
        severity: 'exclude',
        message: `near-duplicate of ${hashed[original]!.image} (hash distance ${distance} of 64)`,
        hint: `keep the better of the two; ${hashed[original]!.image} stays in the prepared copy`,
      });
    }
    return findings;
  },
};
