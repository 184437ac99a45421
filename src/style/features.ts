// Image features for the style score, pure: RGB pixels → a fixed-length vector (colour histogram, light, texture).

export interface RgbImage {
  width: number;
  height: number;
  /** Interleaved 8-bit RGB, row-major. */
  data: Uint8Array;
}

const BINS = 4; // per channel: 4×4×4 = 64 colour bins, coarse enough to be stable under small shifts

/** 64 colour-histogram shares + mean/std brightness + mean saturation + edge density = 68 numbers, each ~0–1. */
export function styleFeatures(image: RgbImage): number[] {
  const { width, height, data } = image;
  const pixels = width * height;
  const histogram = new Array<number>(BINS ** 3).fill(0);
  let sumLight = 0;
  let sumLight2 = 0;
  let sumSaturation = 0;
  const light = new Float32Array(pixels);
  for (let i = 0; i < pixels; i++) {
    const r = data[3 * i]!;
    const g = data[3 * i + 1]!;
    const b = data[3 * i + 2]!;
    histogram[((r * BINS) >> 8) * BINS * BINS + ((g * BINS) >> 8) * BINS + ((b * BINS) >> 8)]! += 1 / pixels;
    const l = (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
    light[i] = l;
    sumLight += l;
    sumLight2 += l * l;
    const max = Math.max(r, g, b);
    sumSaturation += max === 0 ? 0 : (max - Math.min(r, g, b)) / max;
  }
  const meanLight = sumLight / pixels;
  let edges = 0;
  for (let y = 0; y < height - 1; y++) {
    for (let x = 0; x < width - 1; x++) {
      const i = y * width + x;
      edges += Math.abs(light[i]! - light[i + 1]!) + Math.abs(light[i]! - light[i + width]!);
    }
  }
  return [
    ...histogram,
    meanLight,
    Math.sqrt(Math.max(0, sumLight2 / pixels - meanLight * meanLight)),
    sumSaturation / pixels,
    (4 * edges) / ((width - 1) * (height - 1)),
  ];
}
