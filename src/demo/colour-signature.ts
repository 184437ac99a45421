// Colour statistics of a picture, pure: enough to tell the sample styles apart with a nearest-centroid classifier.

/**
 * Features in 0–1 from raw interleaved pixels (RGB or RGBA, row-major): mean R, G, B of the top half (sky,
 * roofs), of the bottom half (water, ground), then mean brightness and mean HSV saturation of the whole picture.
 */
export function colourSignature(pixels: Uint8Array, channels: number, width: number): number[] {
  const height = pixels.length / channels / width;
  const top = { r: 0, g: 0, b: 0 };
  const bottom = { r: 0, g: 0, b: 0 };
  let brightness = 0;
  let saturation = 0;
  for (let i = 0; i < pixels.length; i += channels) {
    const r = pixels[i]!;
    const g = pixels[i + 1]!;
    const b = pixels[i + 2]!;
    const half = Math.floor(i / channels / width) < height / 2 ? top : bottom;
    half.r += r;
    half.g += g;
    half.b += b;
    const max = Math.max(r, g, b);
    brightness += max;
    saturation += max === 0 ? 0 : (max - Math.min(r, g, b)) / max;
  }
  const perHalf = (pixels.length / channels / 2) * 255;
  const count = pixels.length / channels;
  return [top.r, top.g, top.b, bottom.r, bottom.g, bottom.b]
    .map((sum) => sum / perHalf)
    .concat(brightness / count / 255, saturation / count);
}

export function centroid(vectors: readonly (readonly number[])[]): number[] {
  const first = vectors[0];
  if (!first) throw new RangeError('centroid of no vectors');
  return first.map((_, d) => vectors.reduce((sum, v) => sum + v[d]!, 0) / vectors.length);
}

export function distance(a: readonly number[], b: readonly number[]): number {
  return Math.sqrt(a.reduce((sum, value, d) => sum + (value - b[d]!) ** 2, 0));
}

/** The label whose centroid lies nearest to `vector` (Euclidean). */
export function nearestCentroid<Label extends string>(
  centroids: ReadonlyMap<Label, readonly number[]>,
  vector: readonly number[],
): Label {
  let best: Label | undefined;
  let bestDistance = Infinity;
  for (const [label, c] of centroids) {
    const d = distance(c, vector);
    if (d < bestDistance) [best, bestDistance] = [label, d];
  }
  if (best === undefined) throw new RangeError('no centroids');
  return best;
}
