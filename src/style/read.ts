// The style-score shell: images (files or drawn scenes) → features with sharp, and the reference classifier.
import sharp from 'sharp';
import { drawScene, sceneSeed, STYLE_NAMES, type StyleName } from '../demo/index.js';
import { trainStyleClassifier, type LabelledFeatures, type StyleClassifier } from './classifier.js';
import { styleFeatures } from './features.js';

/** Every image is compared at this size, whatever size it was generated at. */
export const SCORE_SIZE_PX = 64;

export async function featuresOfImage(input: string | Buffer): Promise<number[]> {
  const { data, info } = await sharp(input)
    .removeAlpha()
    .resize(SCORE_SIZE_PX, SCORE_SIZE_PX, { fit: 'cover' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return styleFeatures({
    width: info.width,
    height: info.height,
    data: new Uint8Array(data.buffer, data.byteOffset, data.length),
  });
}

/** The class of every picture that is not the target style. */
export const OTHER_STYLES = 'other';

export interface ReferenceOptions {
  /** The style to score; every other style (and `generic`) is "not it". */
  target: StyleName;
  /** Scenes drawn per style (the classifier's training set). */
  perStyle?: number;
  seed?: number;
  styles?: readonly StyleName[];
}

/**
 * The project's style score model: `target` against every other sample style, trained on freshly drawn scenes.
 * One-against-the-rest keeps the score continuous: a picture half-way to the style scores half-way, where a
 * many-style classifier would call it some third style. Deterministic: the same options give the same model.
 */
export async function buildReferenceClassifier(options: ReferenceOptions): Promise<StyleClassifier> {
  const perStyle = options.perStyle ?? 40;
  const styles = options.styles ?? STYLE_NAMES;
  const examples: LabelledFeatures[] = [];
  for (const style of styles) {
    for (let i = 0; i < perStyle; i++) {
      // Seeds far from the ones `demo-data` uses by default, so the classifier never trains on the LoRA's pictures.
      const scene = drawScene(style, sceneSeed(9_000 + (options.seed ?? 0), style, i), SCORE_SIZE_PX);
      examples.push({
        style: style === options.target ? style : OTHER_STYLES,
        features: await featuresOfImage(Buffer.from(scene.svg)),
      });
    }
  }
  return trainStyleClassifier(examples);
}
