import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { centroid, colourSignature, distance, nearestCentroid } from './colour-signature.js';
import { sceneCaption, type SceneFacts } from './scene-caption.js';
import { drawScene } from './scenes.js';
import { sceneSeed } from './seeded-random.js';
import { STYLE_NAMES, type StyleName } from './styles.js';

const countOf = (svg: string, kind: string) => svg.split(`class="${kind}"`).length - 1;
const seedsOf = (style: StyleName, from: number, n: number) =>
  Array.from({ length: n }, (_, i) => sceneSeed(0, style, from + i));

async function signatureOf(svg: string): Promise<number[]> {
  const { data, info } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return colourSignature(data, info.channels, info.width);
}

describe('drawScene', () => {
  it('draws the same SVG, caption and facts for the same seed, and a different picture for another seed', () => {
    for (const style of STYLE_NAMES) {
      expect(drawScene(style, 42, 64)).toEqual(drawScene(style, 42, 64));
      expect(drawScene(style, 42, 64).svg).not.toBe(drawScene(style, 43, 64).svg);
    }
  });

  it('renders identical PNG bytes from the same seed', async () => {
    const render = () =>
      sharp(Buffer.from(drawScene('jiangnan', 7, 64).svg))
        .png()
        .toBuffer();
    expect((await render()).equals(await render())).toBe(true);
  });

  it('draws exactly what the facts say, and the caption says the same', () => {
    for (const style of STYLE_NAMES) {
      for (const seed of seedsOf(style, 0, 40)) {
        const { svg, caption, facts } = drawScene(style, seed, 64);
        expect([
          countOf(svg, 'house'),
          countOf(svg, 'bridge'),
          countOf(svg, 'boat'),
          countOf(svg, 'tree'),
          countOf(svg, 'lantern'),
          countOf(svg, 'sign'),
        ]).toEqual([
          facts.houses,
          Number(facts.hasBridge),
          Number(facts.hasBoat),
          facts.trees,
          facts.lanterns,
          facts.signs,
        ]);
        expect(countOf(svg, 'rain') === 1).toBe(facts.weather === 'rainy');
        expect(countOf(svg, 'snowfall') === 1).toBe(facts.weather === 'snowy');
        const [subject, , styleWords, detail] = caption.split(', ');
        expect(caption.split(', ')).toHaveLength(4);
        expect(subject!.startsWith(['', 'one ', 'two ', 'three ', 'four ', 'five '][facts.houses]!)).toBe(true);
        expect(/bridge/.test(subject!)).toBe(facts.hasBridge);
        expect(/boat/.test(subject!)).toBe(facts.hasBoat);
        expect(/tree/.test(subject!)).toBe(facts.trees > 0);
        expect(/lantern/.test(subject!)).toBe(facts.lanterns > 0);
        expect(/neon sign/.test(subject!)).toBe(facts.signs > 0);
        expect(styleWords).toEqual(
          style === 'generic' ? 'plain style' : expect.stringContaining(`${style.replace('_', ' ')} style with`),
        );
        expect(detail).toBe(`${facts.weather} ${facts.timeOfDay}`);
      }
    }
  });

  it('varies layout and mood within a style', () => {
    for (const style of STYLE_NAMES) {
      const facts = seedsOf(style, 0, 40).map((seed) => drawScene(style, seed, 64).facts);
      expect(new Set(facts.map((f) => f.houses)).size).toBeGreaterThanOrEqual(2);
      expect(new Set(facts.map((f) => `${f.weather} ${f.timeOfDay}`)).size).toBeGreaterThanOrEqual(3);
      expect(
        new Set(facts.map((f) => `${f.trees}/${f.lanterns}/${f.signs}/${f.hasBridge}/${f.hasBoat}`)).size,
      ).toBeGreaterThanOrEqual(3);
    }
    const canal = seedsOf('jiangnan', 0, 40).map((seed) => drawScene('jiangnan', seed, 64).facts);
    expect(new Set(canal.map((f) => f.hasBridge))).toEqual(new Set([true, false]));
    expect(new Set(canal.map((f) => f.hasBoat))).toEqual(new Set([true, false]));
  });

  it('renders every style to a PNG of the requested size', async () => {
    for (const style of STYLE_NAMES) {
      for (const sizePx of [64, 128]) {
        const png = await sharp(Buffer.from(drawScene(style, 1, sizePx).svg))
          .png()
          .toBuffer();
        const { format, width, height } = await sharp(png).metadata();
        expect({ format, width, height }).toEqual({ format: 'png', width: sizePx, height: sizePx });
        // A real picture, not a flat fill: some channel varies across the image.
        expect(Math.max(...(await sharp(png).stats()).channels.map((c) => c.stdev))).toBeGreaterThan(15);
      }
    }
  });

  it('gives each style a colour signature that a nearest-centroid classifier recognises on held-out images', async () => {
    const train = new Map<StyleName, number[][]>();
    const heldOut: [StyleName, number[]][] = [];
    for (const style of STYLE_NAMES) {
      train.set(
        style,
        await Promise.all(seedsOf(style, 0, 12).map((seed) => signatureOf(drawScene(style, seed, 64).svg))),
      );
      for (const seed of seedsOf(style, 100, 12))
        heldOut.push([style, await signatureOf(drawScene(style, seed, 64).svg)]);
    }
    const centroids = new Map(STYLE_NAMES.map((style) => [style, centroid(train.get(style)!)] as const));
    const correct = heldOut.filter(([style, signature]) => nearestCentroid(centroids, signature) === style).length;
    expect(correct / heldOut.length).toBeGreaterThanOrEqual(0.9);
    // A clear margin: every other style's centroid lies more than twice as far away as this style's average image.
    for (const style of STYLE_NAMES) {
      const own = centroids.get(style)!;
      const spread = train.get(style)!.reduce((sum, v) => sum + distance(v, own), 0) / 12;
      const nearestOther = Math.min(
        ...STYLE_NAMES.filter((s) => s !== style).map((s) => distance(centroids.get(s)!, own)),
      );
      expect(nearestOther, style).toBeGreaterThan(2 * spread);
    }
  });
});

describe('sceneCaption', () => {
  const base: SceneFacts = {
    style: 'jiangnan',
    houses: 3,
    hasWater: true,
    hasBridge: true,
    hasBoat: false,
    trees: 2,
    treeKind: 'willow',
    lanterns: 0,
    signs: 0,
    timeOfDay: 'morning',
    weather: 'misty',
  };

  it('reads subject, scene, style, detail', () => {
    expect(sceneCaption(base)).toBe(
      'three houses and a stone bridge and two willow trees, canal town scene, jiangnan style with white walls and black tiles, misty morning',
    );
    expect(
      sceneCaption({
        ...base,
        style: 'generic',
        houses: 1,
        hasWater: false,
        hasBridge: false,
        trees: 1,
        treeKind: 'round',
        weather: 'sunny',
        timeOfDay: 'noon',
      }),
    ).toBe('one house and a tree, village scene, plain style, sunny noon');
  });
});
