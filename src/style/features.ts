// Image features for the style score, pure: RGB pixels → a fixed-length vector (regional colour, light, texture).

export interface RgbImage {
  width: number;
  height: number;
  /** Interleaved 8-bit RGB, row-major. */
  data: Uint8Array;
}

const GRID = 4; // 4×4 regions: where the sky, walls, roofs and water sit, without the exact layout

/**
 * Mean RGB of each of 4×4 regions (48 numbers) + brightness spread + mean saturation + edge density = 51 numbers,
 * each ~0–1. Region means are linear in the pixels, so a picture part-way between two styles lands part-way
 * between them in feature space (a colour histogram would not: blended colours fall into other bins).
 */
export function styleFeatures(image: RgbImage): number[] {
  const { width, height, data } = image;
  const pixels = width * height;
  const regions = new Array<number>(GRID * GRID * 3).fill(0);
  const regionCounts = new Array<number>(GRID * GRID).fill(0);
  const light = new Float32Array(pixels);
  let sumLight = 0;
  let sumLight2 = 0;
  let sumSaturation = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const r = data[3 * i]! / 255;
      const g = data[3 * i + 1]! / 255;
      const b = data[3 * i + 2]! / 255;
      const region = Math.floor((y * GRID) / height) * GRID + Math.floor((x * GRID) / width);
      regions[3 * region]! += r;
      regions[3 * region + 1]! += g;
      regions[3 * region + 2]! += b;
      regionCounts[region]! += 1;
      const l = 0.2126 * r + 0.7152 * g + 0.0722 * b;
      light[i] = l;
      sumLight += l;
      sumLight2 += l * l;
      const max = Math.max(r, g, b);
      sumSaturation += max === 0 ? 0 : (max - Math.min(r, g, b)) / max;
    }
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
    ...regions.map((sum, k) => sum / Math.max(1, regionCounts[Math.floor(k / 3)]!)),
    Math.sqrt(Math.max(0, sumLight2 / pixels - meanLight * meanLight)),
    sumSaturation / pixels,
    (4 * edges) / ((width - 1) * (height - 1)),
  ];
}
