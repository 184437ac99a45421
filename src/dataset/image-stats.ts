// Image statistics, pure: decoded pixels → the numbers the quality rules judge (sharpness, brightness, contrast, clipping).

export interface ImageStats {
  /** Variance of the 4-neighbour Laplacian ÷ variance of the brightness, at the analysis size. Low = blurry. */
  sharpness: number;
  /** Mean brightness, 0–255. */
  brightness: number;
  /** Standard deviation of brightness, 0–128. Low = flat, washed out. */
  contrast: number;
  /** Brightness below which 1 % / above which 1 % of the pixels lie (0–255). */
  darkPercentile: number;
  brightPercentile: number;
}

/** Raw interleaved pixels as sharp returns them (`.raw()`): 1–4 channels, 8 bits. */
export interface RawPixels {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

/** Rec. 601 luma of every pixel (alpha ignored): 0–255. */
export function brightnessOf(pixels: RawPixels): Uint8Array {
  const { data, width, height, channels } = pixels;
  const grey = new Uint8Array(width * height);
  if (channels < 3) {
    for (let i = 0; i < grey.length; i++) grey[i] = data[i * channels]!;
    return grey;
  }
  for (let i = 0, p = 0; i < grey.length; i++, p += channels)
    grey[i] = (299 * data[p]! + 587 * data[p + 1]! + 114 * data[p + 2]! + 500) / 1000;
  return grey;
}

/** Variance of the Laplacian over interior pixels: edges a blur has softened contribute far less. */
export function laplacianVariance(grey: Uint8Array, width: number, height: number): number {
  if (width < 3 || height < 3) return 0;
  let sum = 0;
  let sumSquares = 0;
  for (let y = 1; y < height - 1; y++) {
    const row = y * width;
    for (let x = 1; x < width - 1; x++) {
      const i = row + x;
      const laplacian = grey[i - 1]! + grey[i + 1]! + grey[i - width]! + grey[i + width]! - 4 * grey[i]!;
      sum += laplacian;
      sumSquares += laplacian * laplacian;
    }
  }
  const n = (width - 2) * (height - 2);
  const mean = sum / n;
  return sumSquares / n - mean * mean;
}

function percentile(histogram: Uint32Array, total: number, fraction: number): number {
  const wanted = fraction * total;
  let seen = 0;
  for (let level = 0; level < 256; level++) {
    seen += histogram[level]!;
    if (seen > wanted) return level;
  }
  return 255;
}

/** Statistics of a brightness image (`brightnessOf`), `width × height`. */
export function imageStats(grey: Uint8Array, width: number, height: number): ImageStats {
  const histogram = new Uint32Array(256);
  let sum = 0;
  for (const level of grey) {
    histogram[level]! += 1;
    sum += level;
  }
  const brightness = sum / grey.length;
  let squares = 0;
  for (let level = 0; level < 256; level++) squares += histogram[level]! * (level - brightness) ** 2;
  const variance = squares / grey.length;
  return {
    // Divided by the brightness variance: a darker or flatter copy of a sharp picture is not a blurrier one.
    sharpness: variance > 0 ? laplacianVariance(grey, width, height) / variance : 0,
    brightness,
    contrast: Math.sqrt(variance),
    darkPercentile: percentile(histogram, grey.length, 0.01),
    brightPercentile: percentile(histogram, grey.length, 0.99),
  };
}
