// Sample scenes, pure: (style, seed) → SVG picture, four-part caption and the facts of what was drawn.
import { HOUSE_DRAWERS, type HouseBox } from './buildings.js';
import { sceneCaption, type SceneFacts } from './scene-caption.js';
import {
  boat,
  farLayer,
  foreground,
  lantern,
  neonSign,
  plankBridge,
  reflection,
  sky,
  skyLight,
  stoneBridge,
  veil,
  weatherLayer,
} from './scenery.js';
import { createRng, type Rng } from './seeded-random.js';
import { STYLES, type Mood, type StyleName, type StyleSpec, type TreeKind } from './styles.js';
import { drawTree } from './trees.js';

export interface Scene {
  /** `sizePx` square; drawn on a 64-unit canvas so every size shows the same picture. */
  svg: string;
  caption: string;
  facts: SceneFacts;
}

const TREE_HEIGHT: Record<TreeKind, readonly [number, number]> = {
  willow: [15, 21],
  banyan: [20, 26],
  pine: [10, 15],
  bare: [12, 17],
  palm: [15, 22],
  round: [11, 16],
};
/** Spots along the bank, edges first: trees frame the houses rather than hide them. */
const TREE_XS = [5, 59, 20, 44, 32];
const SIGN_COLOURS = ['#ff3cac', '#2de2e6', '#ff3cac', '#2de2e6', '#ff5fd2', '#b84dff'];

function placeHouses(spec: StyleSpec, count: number, base: number, rng: Rng): HouseBox[] {
  const slot = 62 / count;
  const isRow = spec.houseHeight[0] >= 20; // shophouses and towers stand wall to wall
  return Array.from({ length: count }, (_, i) => {
    const w = Math.min(isRow ? 19 : 24, slot * (isRow ? rng.range(0.86, 0.97) : rng.range(0.7, 0.9)));
    return {
      x: 1 + i * slot + rng.range(0, slot - w),
      w,
      h: rng.range(spec.houseHeight[0], spec.houseHeight[1]),
      base,
    };
  });
}

/** Two lanterns per house at most, one under each end of the eaves; lingnan hangs them inside the arcade. */
function lanternSpots(style: StyleName, boxes: readonly HouseBox[], count: number): [number, number][] {
  return Array.from({ length: count }, (_, k) => {
    const box = boxes[k % boxes.length]!;
    const x = Math.floor(k / boxes.length) === 0 ? box.x + 2 : box.x + box.w - 2;
    return [x, style === 'lingnan' ? box.base - 7.6 : box.base - box.h + 0.4];
  });
}

/** Horizontal signs high on the facade, vertical ones lower down: two per building never overlap. */
function signs(boxes: readonly HouseBox[], count: number, rng: Rng): string[] {
  return Array.from({ length: count }, (_, k) => {
    const box = boxes[k % boxes.length]!;
    const colour = rng.pick(SIGN_COLOURS);
    if (Math.floor(k / boxes.length) === 1)
      return neonSign(box.x + box.w - 3.6, box.base - rng.range(12, 16), 2.6, rng.range(7, 10), colour);
    const w = Math.min(box.w - 2, rng.range(6, 10));
    return neonSign(
      box.x + (box.w - w) / 2,
      box.base - box.h + rng.range(2, Math.max(2.5, box.h - 21)),
      w,
      rng.range(2.5, 3.5),
      colour,
    );
  });
}

function decideFacts(style: StyleName, spec: StyleSpec, mood: Mood, rng: Rng): SceneFacts {
  const houses = rng.int(spec.houses[0], spec.houses[1]);
  const hasWater = rng.chance(spec.water);
  const hasLanterns = rng.chance(spec.lanterns);
  return {
    style,
    houses,
    hasWater,
    hasBridge: hasWater && rng.chance(spec.bridge),
    hasBoat: hasWater && rng.chance(spec.boat),
    trees: rng.int(spec.trees[0], spec.trees[1]),
    treeKind: rng.pick(spec.treeKinds),
    lanterns: hasLanterns ? rng.int(1, Math.min(4, houses * 2)) : 0,
    signs: rng.int(spec.signs[0], spec.signs[1]),
    timeOfDay: mood.timeOfDay,
    weather: mood.weather,
  };
}

/** Foreground items (trees, bridge, boat) sorted by how near they stand, so nearer ones are drawn over farther ones. */
function foregroundItems(facts: SceneFacts, spec: StyleSpec, base: number, rng: Rng): string[] {
  const items: { y: number; svg: string }[] = [];
  const xs = rng.chance(0.5) ? TREE_XS : [TREE_XS[1]!, TREE_XS[0]!, ...TREE_XS.slice(2)];
  for (const x of xs.slice(0, facts.trees)) {
    const y = facts.hasWater || facts.style === 'lingnan' ? base + 0.8 : base + rng.range(1, 7);
    const [low, high] = TREE_HEIGHT[facts.treeKind];
    items.push({
      y,
      svg: drawTree(
        facts.treeKind,
        { x: x + rng.range(-2, 2), base: y, height: rng.range(low, high) },
        rng,
        spec.palette,
      ),
    });
  }
  const bridgeX = rng.range(18, 46);
  if (facts.hasBridge) {
    const waterline = base + (facts.style === 'jiangnan' ? rng.range(8, 11) : rng.range(6, 9));
    const bridge =
      facts.style === 'jiangnan' ? stoneBridge(bridgeX, waterline, rng) : plankBridge(bridgeX, waterline, rng);
    items.push({
      y: waterline,
      svg: [
        `<g id="bridge">${bridge}</g>`,
        ...reflection(['bridge'], waterline, waterline - 1.2, 0.4, '#ffffff', rng),
      ].join(''),
    });
  }
  if (facts.hasBoat) {
    const [left, right] = !facts.hasBridge
      ? [2, 50]
      : bridgeX >= 32
        ? [1, Math.max(1, bridgeX - 25)]
        : [bridgeX + 13, 52];
    const y = rng.range(base + 6, 60);
    items.push({ y, svg: boat(facts.style, rng.range(left, right), y, rng) });
  }
  return items.sort((a, b) => a.y - b.y).map((item) => item.svg);
}

/** Draws one scene. Same (style, seed) → the same SVG text and caption on every machine. */
export function drawScene(style: StyleName, seed: number, sizePx: number): Scene {
  const spec = STYLES[style];
  const rng = createRng(seed);
  const mood = rng.pick(spec.moods);
  const facts = decideFacts(style, spec, mood, rng);
  const base = rng.range(spec.baseline[0], spec.baseline[1]);
  const boxes = placeHouses(spec, facts.houses, base, rng);
  const row = boxes.map((box) => HOUSE_DRAWERS[style](box, rng, spec.palette)).concat(signs(boxes, facts.signs, rng));
  const isMisty = facts.weather === 'misty' || facts.weather === 'hazy';
  const mistColour = style === 'desert_town' ? '#f0d8a8' : style === 'neon_night' ? '#6a4a8a' : '#f1f2ef';
  const parts = [
    sky(mood),
    ...skyLight(style, facts.weather, rng),
    ...farLayer(style, spec.palette, base, rng),
    veil('far', mistColour, spec.haze + (isMisty ? 0.2 : 0), base),
  ];
  parts.push(`<g id="row">${row.join('')}</g>`, ...foreground(style, spec.palette, base, facts.hasWater, rng));
  if (facts.hasWater || style === 'neon_night')
    parts.push(
      ...reflection(
        ['row'],
        base,
        base,
        style === 'neon_night' ? 0.5 : 0.35,
        facts.hasWater ? '#ffffff' : '#000000',
        rng,
      ),
    );
  parts.push(veil('mid', mistColour, spec.haze * 0.6, base), ...foregroundItems(facts, spec, base, rng));
  const isGlowing = facts.timeOfDay === 'dusk' || facts.timeOfDay === 'night';
  parts.push(...lanternSpots(style, boxes, facts.lanterns).map(([x, y]) => lantern(x, y, isGlowing)));
  parts.push(
    ...weatherLayer(facts.weather, style, rng),
    veil('near', mistColour, spec.haze * 0.5 + (isMisty ? 0.12 : 0), base),
  );
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${sizePx}" height="${sizePx}" viewBox="0 0 64 64">${parts.join('')}</svg>`;
  return { svg, caption: sceneCaption(facts), facts };
}
