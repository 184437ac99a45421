import { describe, expect, it } from 'vitest';
import { centroid, colourSignature, nearestCentroid } from './colour-signature.js';

describe('colourSignature', () => {
  it('averages the top and bottom halves separately, then brightness and saturation', () => {
    // 2×2 RGBA: a red top row over a grey bottom row.
    const pixels = Uint8Array.from([255, 0, 0, 255, 255, 0, 0, 255, 102, 102, 102, 255, 102, 102, 102, 255]);
    expect(colourSignature(pixels, 4, 2)).toEqual([1, 0, 0, 0.4, 0.4, 0.4, 0.7, 0.5]);
  });
});

describe('nearestCentroid', () => {
  it('picks the label whose centroid is closest', () => {
    const centroids = new Map([
      [
        'dark',
        centroid([
          [0, 0],
          [0.2, 0.2],
        ]),
      ],
      [
        'bright',
        centroid([
          [1, 1],
          [0.8, 0.8],
        ]),
      ],
    ] as const);
    expect(centroids.get('dark')).toEqual([0.1, 0.1]);
    expect(nearestCentroid(centroids, [0.3, 0.4])).toBe('dark');
    expect(nearestCentroid(centroids, [0.6, 0.7])).toBe('bright');
  });
});
