// The quality shell: decodes one picture with sharp (EXIF orientation applied, truncation an error) and measures what
// the quality rules judge. One decode at the analysis size: JPEG shrink-on-load keeps this cheap for big photos.
import sharp, { type OutputInfo } from 'sharp';
import { ANALYSIS_SIDE_PX, type ImageRecord } from './findings.js';
import { brightnessOf, imageStats } from './image-stats.js';
import { hashInputOf, perceptualHash } from './perceptual-hash.js';

export type MeasuredImage = Omit<ImageRecord, 'image' | 'caption'>;

/** EXIF orientations 5–8 turn the picture a quarter: width and height swap. */
export function isQuarterTurn(orientation: number): boolean {
  return orientation >= 5 && orientation <= 8;
}

export async function inspectImage(path: string): Promise<MeasuredImage> {
  let width = 0;
  let height = 0;
  let orientation = 1;
  let decoded: { data: Buffer; info: OutputInfo };
  try {
    const header = await sharp(path).metadata();
    orientation = header.orientation ?? 1;
    width = isQuarterTurn(orientation) ? (header.height ?? 0) : (header.width ?? 0);
    height = isQuarterTurn(orientation) ? (header.width ?? 0) : (header.height ?? 0);
    decoded = await sharp(path, { failOn: 'truncated' })
      .rotate()
      .resize(ANALYSIS_SIDE_PX, ANALYSIS_SIDE_PX, { fit: 'outside', withoutEnlargement: true })
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0] ?? 'unknown error';
    return { width, height, orientation, stats: null, hash: null, unreadable: reason };
  }
  const { data, info } = decoded;
  const grey = brightnessOf({ data, width: info.width, height: info.height, channels: info.channels });
  const hash = perceptualHash(hashInputOf(grey, info.width, info.height));
  return { width, height, orientation, stats: imageStats(grey, info.width, info.height), hash, unreadable: null };
}
