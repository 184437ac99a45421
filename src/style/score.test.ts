import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { drawScene, sceneSeed } from '../demo/index.js';
import { styleScore, type StyleClassifier } from './classifier.js';
import { buildReferenceClassifier, featuresOfImage } from './read.js';

let classifier: StyleClassifier;

async function pixelsOf(style: Parameters<typeof drawScene>[0], index: number): Promise<Buffer> {
  return sharp(Buffer.from(drawScene(style, sceneSeed(77, style, index), 64).svg))
    .removeAlpha()
    .raw()
    .toBuffer();
}

/** A pixel-wise blend of two images: `amount` 0 is all `a`, 1 is all `b`. */
async function blendFeatures(a: Buffer, b: Buffer, amount: number): Promise<number[]> {
  const mixed = Buffer.from(a.map((v, i) => Math.round((1 - amount) * v + amount * b[i]!)));
  return featuresOfImage(
    await sharp(mixed, { raw: { width: 64, height: 64, channels: 3 } })
      .png()
      .toBuffer(),
  );
}

beforeAll(async () => {
  classifier = await buildReferenceClassifier({ target: 'jiangnan', perStyle: 24 });
});

describe('style score', () => {
  it('is high for held-out jiangnan scenes and low for the other styles', async () => {
    const score = async (style: Parameters<typeof drawScene>[0]) =>
      styleScore(
        classifier,
        'jiangnan',
        await Promise.all(
          [0, 1, 2, 3, 4, 5].map(async (i) =>
            featuresOfImage(Buffer.from(drawScene(style, sceneSeed(77, style, i), 64).svg)),
          ),
        ),
      );
    expect(await score('jiangnan')).toBeGreaterThan(0.9);
    for (const other of ['lingnan', 'northern_snow', 'desert_town', 'neon_night', 'generic'] as const)
      expect(await score(other)).toBeLessThan(0.1);
  });

  it('rises as a picture is blended toward the style', async () => {
    const pairs = await Promise.all(
      [0, 1, 2, 3].map(async (i) => [await pixelsOf('desert_town', i), await pixelsOf('jiangnan', i)] as const),
    );
    const scores: number[] = [];
    for (const amount of [0, 0.5, 0.8, 1]) {
      scores.push(
        styleScore(classifier, 'jiangnan', await Promise.all(pairs.map(([a, b]) => blendFeatures(a, b, amount)))),
      );
    }
    expect(scores[0]).toBeLessThan(0.1);
    expect(scores[1]).toBeGreaterThan(0.1);
    expect(scores[3]).toBeGreaterThan(0.9);
    expect([...scores].sort((a, b) => a - b)).toEqual(scores);
  });

  it('is deterministic', async () => {
    const again = await buildReferenceClassifier({ target: 'jiangnan', perStyle: 24 });
    expect(again.weights).toEqual(classifier.weights);
  });
});
