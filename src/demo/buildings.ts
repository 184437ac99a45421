// One house drawer per style: the shapes that carry most of a style's identity (roofs, walls, arcades, windows).
import type { Rng } from './seeded-random.js';
import type { Palette, StyleName } from './styles.js';
import { el, group, num, shade } from './svg-markup.js';

/** A house standing on `base` (its bottom edge), `h` tall without its roof. */
export interface HouseBox {
  x: number;
  w: number;
  h: number;
  base: number;
}

export type HouseDrawer = (box: HouseBox, rng: Rng, palette: Palette) => string;

/** `count` windows spread evenly between x0 and x1. */
function windowRow(
  x0: number,
  x1: number,
  y: number,
  count: number,
  size: readonly [number, number],
  fill: string,
): string[] {
  const gap = (x1 - x0 - count * size[0]) / (count + 1);
  return Array.from({ length: count }, (_, i) =>
    el('rect', { x: x0 + gap + i * (size[0] + gap), y, width: size[0], height: size[1], fill }),
  );
}

/** A black-tile roof seen from the long side; both eave tips sweep upward, the jiangnan signature. */
function sweptRoof(x0: number, x1: number, y: number, thickness: number, fill: string): string {
  const t = thickness;
  const d = [
    `M${num(x0 + 2.5)} ${num(y - t)} L${num(x1 - 2.5)} ${num(y - t)}`,
    `Q${num(x1 - 0.8)} ${num(y - 0.5 * t)} ${num(x1 + 0.8)} ${num(y - 0.62 * t)}`,
    `Q${num(x1 - 0.6)} ${num(y + 0.6)} ${num(x1 - 3.2)} ${num(y + 0.5)} L${num(x0 + 3.2)} ${num(y + 0.5)}`,
    `Q${num(x0 + 0.6)} ${num(y + 0.6)} ${num(x0 - 0.8)} ${num(y - 0.62 * t)}`,
    `Q${num(x0 + 0.8)} ${num(y - 0.5 * t)} ${num(x0 + 2.5)} ${num(y - t)} Z`,
  ].join(' ');
  return (
    `<path d="${d}" fill="${fill}"/>` +
    el('rect', { x: x0 + 2.3, y: y - t - 0.5, width: x1 - x0 - 4.6, height: 0.8, fill: shade(fill, -0.3) })
  );
}

/** The black coping on top of a gable step, its two ends lifted like the eaves. */
function gableCap(x0: number, x1: number, y: number, fill: string): string {
  const d = `M${num(x0 - 0.8)} ${num(y - 1.4)} Q${num(x0)} ${num(y - 0.8)} ${num(x0 + 1)} ${num(y - 0.9)} L${num(x1 - 1)} ${num(y - 0.9)} Q${num(x1)} ${num(y - 0.8)} ${num(x1 + 0.8)} ${num(y - 1.4)} L${num(x1 + 0.3)} ${num(y + 0.3)} L${num(x0 - 0.3)} ${num(y + 0.3)} Z`;
  return `<path d="${d}" fill="${fill}"/>`;
}

/** Stepped white gable walls (matouqiang) rising above the roof at both ends, capped with black tiles. */
function horseHeadWalls(b: HouseBox, top: number, wall: string, roof: string): string[] {
  const parts: string[] = [];
  for (const side of [0, 1]) {
    const outer = side === 0 ? b.x - 0.4 : b.x + b.w - 2.4;
    const inner = side === 0 ? b.x + 2.1 : b.x + b.w - 4.9;
    parts.push(
      el('rect', { x: outer, y: top - 4.6, width: 2.8, height: 4.8, fill: wall }),
      gableCap(outer, outer + 2.8, top - 4.6, roof),
    );
    parts.push(
      el('rect', { x: inner, y: top - 7.2, width: 2.8, height: 7.4, fill: wall }),
      gableCap(inner, inner + 2.8, top - 7.2, roof),
    );
  }
  return parts;
}

function jiangnanHouse(b: HouseBox, rng: Rng, p: Palette): string {
  const top = b.base - b.h;
  const wall = shade(rng.pick(p.walls), rng.range(-0.04, 0.02));
  const roof = rng.pick(p.roofs);
  const lattice = rng.pick(['#3b3d40', '#5a4838']);
  const parts = [el('rect', { x: b.x, y: top, width: b.w, height: b.h, fill: wall })];
  // Damp grey stone at the waterline: white walls in canal towns are stained where they meet the water.
  parts.push(
    el('rect', { x: b.x, y: b.base - 1.8, width: b.w, height: 1.8, fill: '#8d918e' }),
    el('rect', { x: b.x, y: b.base - 3.2, width: b.w, height: 1.4, fill: '#d9dbd6', opacity: 0.8 }),
  );
  const upper = b.h >= 12 && rng.chance(0.6);
  parts.push(...windowRow(b.x, b.x + b.w, top + 2, rng.int(1, Math.max(1, Math.floor(b.w / 5))), [2.4, 2.6], lattice));
  if (upper) parts.push(sweptRoof(b.x - 1, b.x + b.w + 1, top + b.h * 0.5, 1.2, roof));
  parts.push(
    el('rect', { x: b.x + b.w * rng.range(0.25, 0.6), y: b.base - 5.5, width: 2.6, height: 3.7, fill: '#3a3633' }),
  );
  parts.push(sweptRoof(b.x - 2.5, b.x + b.w + 2.5, top, 3.6, roof));
  if (b.w >= 11 && rng.chance(0.55)) parts.push(...horseHeadWalls(b, top, wall, roof));
  return group('house', parts);
}

/** Qilou: the upper floors sit over an arcade that shades the pavement, topped by an ornate parapet. */
function lingnanShophouse(b: HouseBox, rng: Rng, p: Palette): string {
  const top = b.base - b.h;
  const wall = shade(rng.pick(p.walls), rng.range(-0.06, 0.06));
  const arcade = 8;
  const arches = b.w >= 15 ? 3 : 2;
  const opening = (b.w - (arches + 1) * 1.4) / arches;
  const shutters = rng.pick(['#2f5e4e', '#3d6b5a', '#f1e4c4']);
  const parts = [el('rect', { x: b.x, y: top, width: b.w, height: b.h, fill: wall })];
  for (let i = 0; i < arches; i++) {
    const x = b.x + 1.4 + i * (opening + 1.4);
    const r = opening / 2;
    parts.push(
      `<path d="M${num(x)} ${num(b.base)} L${num(x)} ${num(b.base - arcade + r + 1)} A${num(r)} ${num(r)} 0 0 1 ${num(x + opening)} ${num(b.base - arcade + r + 1)} L${num(x + opening)} ${num(b.base)} Z" fill="${shade(wall, -0.55)}"/>`,
    );
  }
  parts.push(
    el('rect', { x: b.x - 0.4, y: b.base - arcade - 0.6, width: b.w + 0.8, height: 1, fill: shade(wall, 0.4) }),
  );
  for (let y = b.base - arcade - 6; y > top + 3; y -= 6.5) {
    parts.push(...windowRow(b.x, b.x + b.w, y, arches + 1, [2, 3.8], shutters));
    parts.push(el('rect', { x: b.x, y: y + 4.6, width: b.w, height: 0.5, fill: shade(wall, 0.3) }));
  }
  const cx = b.x + b.w / 2;
  const crest = rng.range(3, 5);
  parts.push(
    `<path d="M${num(cx - 4.5)} ${num(top + 0.5)} L${num(cx - 4.5)} ${num(top - 1.2)} Q${num(cx)} ${num(top - 1.2 - crest * 1.6)} ${num(cx + 4.5)} ${num(top - 1.2)} L${num(cx + 4.5)} ${num(top + 0.5)} Z" fill="${wall}"/>`,
  );
  parts.push(
    el('rect', { x: b.x - 0.4, y: top - 0.4, width: b.w + 0.8, height: 1.2, fill: shade(wall, 0.35) }),
    el('circle', { cx, cy: top - 1.6, r: 1, fill: shade(wall, -0.4) }),
  );
  return group('house', parts);
}

/** Northern courtyard house: red walls, paper lattice windows, grey tiles under a thick cap of snow. */
function snowHouse(b: HouseBox, rng: Rng, p: Palette): string {
  const top = b.base - b.h;
  const wall = shade(rng.pick(p.walls), rng.range(-0.08, 0.05));
  const roof = rng.pick(p.roofs);
  const parts = [
    el('rect', { x: b.x, y: top, width: b.w, height: b.h, fill: wall }),
    el('rect', { x: b.x, y: b.base - 1.6, width: b.w, height: 1.6, fill: '#8a8680' }),
  ];
  parts.push(...windowRow(b.x, b.x + b.w, top + 2.2, Math.max(1, Math.floor(b.w / 6)), [3, 3.2], '#ecdcae'));
  parts.push(
    el('rect', { x: b.x + b.w / 2 - 1.6, y: b.base - 5.8, width: 3.2, height: 4.2, fill: '#6e1b17' }),
    el('circle', { cx: b.x + b.w / 2, cy: b.base - 3.8, r: 0.35, fill: '#e8c25a' }),
  );
  const l = b.x - 2.6;
  const r = b.x + b.w + 2.6;
  parts.push(
    `<path d="M${num(l)} ${num(top + 0.6)} Q${num(l + 2)} ${num(top - 0.4)} ${num(l + 3.4)} ${num(top - 3.6)} L${num(r - 3.4)} ${num(top - 3.6)} Q${num(r - 2)} ${num(top - 0.4)} ${num(r)} ${num(top + 0.6)} Z" fill="${roof}"/>`,
  );
  // Snow lies thickest on the upper slope and ends in a scalloped edge above the eaves.
  const scallops: string[] = [];
  const steps = Math.max(3, Math.round((r - l) / 3));
  for (let i = steps; i > 0; i--) {
    const x0 = l + ((r - l) * i) / steps;
    const x1 = l + ((r - l) * (i - 1)) / steps;
    scallops.push(`Q${num((x0 + x1) / 2)} ${num(top + rng.range(0.2, 0.9))} ${num(x1)} ${num(top - 0.9)}`);
  }
  parts.push(
    `<path d="M${num(l + 0.2)} ${num(top - 0.9)} Q${num(l + 2)} ${num(top - 1.6)} ${num(l + 3.2)} ${num(top - 4.8)} L${num(r - 3.2)} ${num(top - 4.8)} Q${num(r - 2)} ${num(top - 1.6)} ${num(r - 0.2)} ${num(top - 0.9)} ${scallops.join(' ')} Z" fill="#fbfcfe"/>`,
  );
  return group('house', parts);
}

/** Adobe block: flat roof with a parapet, protruding beam ends, deep openings and a hard sun shadow. */
function adobeHouse(b: HouseBox, rng: Rng, p: Palette): string {
  const top = b.base - b.h;
  const wall = shade(rng.pick(p.walls), rng.range(-0.06, 0.05));
  const parts: string[] = [];
  if (b.h < 12 && rng.chance(0.4)) {
    const w = b.w * rng.range(0.4, 0.6);
    parts.push(
      el('rect', { x: b.x + 1, y: top - 5, width: w, height: 6, rx: 0.8, fill: shade(wall, 0.06) }),
      el('rect', { x: b.x + 1 + w / 2 - 0.8, y: top - 3, width: 1.6, height: 1.6, fill: '#5b3a22' }),
    );
  } else if (rng.chance(0.3)) {
    parts.push(
      `<path d="M${num(b.x + b.w / 2 - 3.5)} ${num(top)} A3.5 3.5 0 0 1 ${num(b.x + b.w / 2 + 3.5)} ${num(top)} Z" fill="${shade(wall, 0.22)}"/>`,
    );
  }
  parts.push(
    el('rect', { x: b.x, y: top, width: b.w, height: b.h, rx: 1, fill: wall }),
    el('rect', { x: b.x - 0.3, y: top - 0.6, width: b.w + 0.6, height: 1.5, rx: 0.6, fill: shade(wall, 0.18) }),
  );
  for (let x = b.x + 1.2; x < b.x + b.w - 1; x += 3.2)
    parts.push(el('rect', { x, y: top + 1.4, width: 1.1, height: 0.8, fill: '#6b4426' }));
  const door = b.x + b.w * rng.range(0.2, 0.55);
  parts.push(
    `<path d="M${num(door)} ${num(b.base)} L${num(door)} ${num(b.base - 3.8)} A1.5 1.5 0 0 1 ${num(door + 3)} ${num(b.base - 3.8)} L${num(door + 3)} ${num(b.base)} Z" fill="#5b3a22"/>`,
  );
  if (b.h >= 10) parts.push(...windowRow(b.x, b.x + b.w, top + 3.5, rng.int(1, 2), [1.8, 1.8], '#6a4529'));
  parts.push(
    el('rect', {
      x: b.x + b.w * 0.72,
      y: top - 0.6,
      width: b.w * 0.28 + 0.3,
      height: b.h + 0.6,
      fill: '#000000',
      opacity: 0.14,
    }),
  );
  return group('house', parts);
}

/** Dark tower block with a grid of windows, a few of them lit, and a glowing shop front. */
function neonBuilding(b: HouseBox, rng: Rng, p: Palette): string {
  const top = b.base - b.h;
  const wall = shade(rng.pick(p.walls), rng.range(-0.1, 0.1));
  const parts = [
    el('rect', { x: b.x, y: top, width: b.w, height: b.h, fill: wall }),
    el('rect', { x: b.x, y: top, width: 0.6, height: b.h, fill: shade(wall, 0.15) }),
  ];
  for (let y = top + 2; y < b.base - 5; y += 3.6) {
    for (let x = b.x + 1.4; x < b.x + b.w - 2; x += 3.2) {
      const isLit = rng.chance(0.3);
      parts.push(
        el('rect', {
          x,
          y,
          width: 1.6,
          height: 1.8,
          fill: isLit ? rng.pick(['#ffd27a', '#ffe9b0', '#9fe8ff']) : shade(wall, 0.1),
          opacity: isLit ? 0.85 : 1,
        }),
      );
    }
  }
  if (rng.chance(0.4))
    parts.push(
      el('rect', { x: b.x + b.w * 0.6, y: top - 4, width: 0.4, height: 4, fill: '#3a3d55' }),
      el('circle', { cx: b.x + b.w * 0.6 + 0.2, cy: top - 4, r: 0.5, fill: '#ff4060' }),
    );
  parts.push(
    el('rect', {
      x: b.x + 0.5,
      y: b.base - 3,
      width: b.w - 1,
      height: 3,
      fill: rng.pick(['#ff3cac', '#2de2e6', '#ffb347']),
      opacity: 0.3,
    }),
  );
  return group('house', parts);
}

/** A plain house: pitched roof, door and two windows, with no regional features. */
function plainHouse(b: HouseBox, rng: Rng, p: Palette): string {
  const top = b.base - b.h;
  const wall = shade(rng.pick(p.walls), rng.range(-0.05, 0.05));
  const parts = [el('rect', { x: b.x, y: top, width: b.w, height: b.h, fill: wall })];
  parts.push(
    el('polygon', {
      points: `${num(b.x - 1.5)},${num(top)} ${num(b.x + b.w / 2)},${num(top - rng.range(4, 6.5))} ${num(b.x + b.w + 1.5)},${num(top)}`,
      fill: rng.pick(p.roofs),
    }),
  );
  const door = b.x + b.w * rng.range(0.2, 0.6);
  parts.push(el('rect', { x: door, y: b.base - 4.6, width: 2.6, height: 4.6, fill: '#7a5534' }));
  parts.push(...windowRow(b.x, b.x + b.w, top + 2, b.w >= 12 ? 2 : 1, [2.6, 2.6], '#a9c8de'));
  return group('house', parts);
}

export const HOUSE_DRAWERS: Record<StyleName, HouseDrawer> = {
  jiangnan: jiangnanHouse,
  lingnan: lingnanShophouse,
  northern_snow: snowHouse,
  desert_town: adobeHouse,
  neon_night: neonBuilding,
  generic: plainHouse,
};
