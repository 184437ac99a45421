// Scene parts around the houses: sky, far layer, ground or water, reflections, bridges, boats, lanterns, signs, weather.
import type { Rng } from './seeded-random.js';
import type { Mood, Palette, StyleName, Weather } from './styles.js';
import { el, group, num, shade } from './svg-markup.js';

export function sky(mood: Mood): string {
  const [top, horizon] = mood.sky;
  return `<defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${top}"/><stop offset="1" stop-color="${horizon}"/></linearGradient></defs><rect width="64" height="64" fill="url(#sky)"/>`;
}

/** Sun for sunny moods, moon for moonlit ones, clouds when overcast; desert suns are larger and whiter. */
export function skyLight(style: StyleName, weather: Weather, rng: Rng): string[] {
  if (weather === 'overcast')
    return Array.from({ length: 3 }, () =>
      el('ellipse', {
        cx: rng.range(0, 64),
        cy: rng.range(4, 16),
        rx: rng.range(10, 18),
        ry: rng.range(1.5, 3),
        fill: '#f4f5f5',
        opacity: 0.35,
      }),
    );
  const x = rng.range(8, 56);
  const y = rng.range(6, 14);
  if (weather === 'moonlit')
    return [
      el('circle', { cx: x, cy: y, r: 5, fill: '#f2f0d8', opacity: 0.15 }),
      el('circle', { cx: x, cy: y, r: 2.8, fill: '#f4f2de' }),
    ];
  if (weather !== 'sunny') return [];
  const r = style === 'desert_town' ? 5.5 : 4;
  const fill = style === 'desert_town' ? '#fffbe8' : '#fff1a8';
  return [el('circle', { cx: x, cy: y, r: r * 2, fill, opacity: 0.25 }), el('circle', { cx: x, cy: y, r, fill })];
}

/** Rolling silhouette from the left edge to the right, filled down to the bottom (later layers cover it). */
function hills(baseY: number, amplitude: number, fill: string, rng: Rng, opacity = 1): string {
  let d = `M0 64 L0 ${num(baseY - rng.range(0, amplitude))}`;
  for (let x = 0; x < 64; x += 16)
    d += ` Q${num(x + 8)} ${num(baseY - rng.range(0, amplitude) * 2)} ${num(x + 16)} ${num(baseY - rng.range(0, amplitude))}`;
  return `<path d="${d} L64 64 Z" fill="${fill}" opacity="${num(opacity)}"/>`;
}

/** Distant layer: misty hills, snowy hills, dunes, a dim skyline; lingnan streets have none. */
export function farLayer(style: StyleName, palette: Palette, base: number, rng: Rng): string[] {
  if (style === 'lingnan') return [];
  if (style === 'neon_night') {
    const parts: string[] = [];
    for (let x = 0; x < 64; x += rng.range(4, 8))
      parts.push(el('rect', { x, y: base - rng.range(14, 30), width: rng.range(4, 7), height: 40, fill: palette.far }));
    return parts;
  }
  if (style === 'jiangnan')
    return [hills(base - 16, 5, palette.far, rng, 0.7), hills(base - 8, 3, shade(palette.far, -0.08), rng, 0.6)];
  return [hills(base - 4, 4, palette.far, rng)];
}

/** Water (canal, river) or ground (street, snow, sand) from the houses' base line down. */
export function foreground(style: StyleName, palette: Palette, base: number, hasWater: boolean, rng: Rng): string[] {
  if (hasWater) {
    const bank = style === 'jiangnan' ? '#8c8f8b' : '#6f9a4c';
    return [
      `<defs><linearGradient id="water" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${palette.water[0]}"/><stop offset="1" stop-color="${palette.water[1]}"/></linearGradient></defs>`,
      el('rect', { y: base, width: 64, height: 64 - base, fill: 'url(#water)' }),
      el('rect', { y: base - 0.4, width: 64, height: 1.6, fill: bank }),
    ];
  }
  const parts = [el('rect', { y: base, width: 64, height: 64 - base, fill: palette.ground })];
  if (style === 'lingnan')
    for (let y = base + 2; y < 64; y += 3)
      parts.push(el('rect', { y, width: 64, height: 0.3, fill: shade(palette.ground, -0.12) }));
  if (style === 'northern_snow')
    for (let i = 0; i < 3; i++)
      parts.push(
        el('ellipse', {
          cx: rng.range(0, 64),
          cy: rng.range(base + 4, 62),
          rx: rng.range(8, 16),
          ry: 1.5,
          fill: '#dbe6f1',
        }),
      );
  if (style === 'desert_town')
    for (let i = 0; i < 2; i++)
      parts.push(hills(rng.range(base + 6, 60), 2, shade(palette.ground, -0.07 * (i + 1)), rng));
  if (style === 'neon_night')
    for (let x = rng.range(-4, 0); x < 64; x += 8)
      parts.push(el('rect', { x, y: base + (64 - base) * 0.6, width: 4, height: 0.5, fill: '#d8d4c0', opacity: 0.4 }));
  return parts;
}

/**
 * Mirror image of the groups `ids` below the line y = `waterline`: canals and wet neon streets both reflect.
 * `<use>` repeats the drawn shapes, so a bridge's arch and its reflection close into the familiar full circle.
 */
export function reflection(
  ids: readonly string[],
  waterline: number,
  base: number,
  opacity: number,
  tint: string,
  rng: Rng,
): string[] {
  const clip = `clip-${ids.join('-')}`;
  const ripples: string[] = [];
  for (let y = base + 2.5; y < 64; y += rng.range(2, 3.5)) {
    for (let x = rng.range(-6, 2); x < 64; x += rng.range(10, 18))
      ripples.push(el('rect', { x, y, width: rng.range(5, 11), height: 0.4, fill: tint, opacity: 0.4 }));
  }
  return [
    `<defs><clipPath id="${clip}"><rect y="${num(base + 1.2)}" width="64" height="${num(64 - base)}"/></clipPath></defs>`,
    `<g clip-path="url(#${clip})" opacity="${num(opacity)}">${ids.map((id) => `<use href="#${id}" transform="matrix(1 0 0 -1 0 ${num(2 * waterline)})"/>`).join('')}</g>`,
    `<g clip-path="url(#${clip})">${ripples.join('')}</g>`,
  ];
}

/** Humped stone bridge whose arch opening shows the water behind it (even-odd hole). */
export function stoneBridge(xc: number, waterline: number, rng: Rng): string {
  const s = rng.range(10, 13);
  const rise = rng.range(7, 9);
  const r = s * 0.5;
  const stone = shade('#8e918c', rng.range(-0.08, 0.05));
  const deck = `M${num(xc - s)} ${num(waterline)} L${num(xc - s)} ${num(waterline - 1.2)} Q${num(xc)} ${num(waterline - 1.2 - 2 * rise)} ${num(xc + s)} ${num(waterline - 1.2)} L${num(xc + s)} ${num(waterline)} Z`;
  const hole = `M${num(xc - r)} ${num(waterline)} A${num(r)} ${num(r)} 0 0 1 ${num(xc + r)} ${num(waterline)} Z`;
  const rail = `M${num(xc - s + 1.5)} ${num(waterline - 3)} Q${num(xc)} ${num(waterline - 2.6 - 2 * rise)} ${num(xc + s - 1.5)} ${num(waterline - 3)}`;
  return group('bridge', [
    `<path d="${deck} ${hole}" fill="${stone}" fill-rule="evenodd"/>`,
    `<path d="M${num(xc - r)} ${num(waterline)} A${num(r)} ${num(r)} 0 0 1 ${num(xc + r)} ${num(waterline)}" fill="none" stroke="${shade(stone, -0.3)}" stroke-width="0.6"/>`,
    `<path d="${rail}" fill="none" stroke="${shade(stone, -0.25)}" stroke-width="0.7"/>`,
  ]);
}

/** Flat plank bridge on posts: the generic style's bridge carries no regional look. */
export function plankBridge(xc: number, waterline: number, rng: Rng): string {
  const s = rng.range(10, 14);
  const deckY = waterline - 4;
  const wood = '#8b6a45';
  const parts = [
    el('rect', { x: xc - s, y: deckY, width: 2 * s, height: 1.3, fill: wood }),
    el('rect', { x: xc - s, y: deckY - 2.4, width: 2 * s, height: 0.5, fill: shade(wood, -0.2) }),
  ];
  for (let x = xc - s + 1; x <= xc + s - 1; x += (2 * s - 2) / 3)
    parts.push(el('rect', { x: x - 0.4, y: deckY - 2.4, width: 0.8, height: 6.4, fill: shade(wood, -0.25) }));
  return group('bridge', parts);
}

/** Wupeng boat: dark wooden hull with a black arched awning (jiangnan); a plain rowing boat otherwise. */
export function boat(style: StyleName, x: number, y: number, rng: Rng): string {
  const len = rng.range(9, 12);
  const hullColour = style === 'jiangnan' ? '#4a3a2c' : '#a0522d';
  const hull = `M${num(x)} ${num(y - 0.8)} L${num(x + len)} ${num(y)} Q${num(x + len - 1)} ${num(y + 1.8)} ${num(x + len - 3)} ${num(y + 1.8)} L${num(x + 2)} ${num(y + 1.8)} Q${num(x + 0.5)} ${num(y + 1.4)} ${num(x)} ${num(y - 0.8)} Z`;
  const parts = [
    el('ellipse', { cx: x + len / 2, cy: y + 2.8, rx: len / 2, ry: 0.9, fill: '#000000', opacity: 0.18 }),
    `<path d="${hull}" fill="${hullColour}"/>`,
  ];
  if (style === 'jiangnan') {
    const a = x + len * 0.28;
    parts.push(
      `<path d="M${num(a)} ${num(y)} A${num(len * 0.22)} 2.6 0 0 1 ${num(a + len * 0.44)} ${num(y)} Z" fill="#26272a"/>`,
    );
    parts.push(
      el('rect', { x: x + len * 0.82, y: y - 3.2, width: 0.8, height: 3, fill: '#3a3530' }),
      el('circle', { cx: x + len * 0.82 + 0.4, cy: y - 3.7, r: 0.7, fill: '#3a3530' }),
    );
  } else {
    parts.push(el('rect', { x: x + 1.5, y: y + 0.2, width: len - 3.5, height: 0.5, fill: '#f2efe6' }));
  }
  return group('boat', parts);
}

export function lantern(x: number, y: number, isGlowing: boolean): string {
  const parts = [el('rect', { x: x - 0.12, y, width: 0.24, height: 1, fill: '#3a2a20' })];
  if (isGlowing) parts.push(el('circle', { cx: x, cy: y + 2.2, r: 2.6, fill: '#ff7a4a', opacity: 0.3 }));
  parts.push(
    el('ellipse', { cx: x, cy: y + 2.2, rx: 1.05, ry: 1.25, fill: '#d9262b' }),
    el('rect', { x: x - 0.6, y: y + 0.8, width: 1.2, height: 0.35, fill: '#e8c25a' }),
    el('rect', { x: x - 0.6, y: y + 3.3, width: 1.2, height: 0.35, fill: '#e8c25a' }),
  );
  return group('lantern', parts);
}

/** A glowing tube outline with a few bright strokes standing for letters (no fonts: text would vary per machine). */
export function neonSign(x: number, y: number, w: number, h: number, colour: string): string {
  const parts = [
    el('rect', { x: x - 1, y: y - 1, width: w + 2, height: h + 2, rx: 1, fill: colour, opacity: 0.28 }),
    el('rect', { x, y, width: w, height: h, rx: 0.5, fill: '#15121f', stroke: colour, 'stroke-width': 0.6 }),
  ];
  const isVertical = h > w;
  for (let i = 0; i < 3; i++) {
    parts.push(
      isVertical
        ? el('rect', {
            x: x + w * 0.25,
            y: y + 1 + (i * (h - 2)) / 3,
            width: w * 0.5,
            height: (h - 2) / 3 - 0.8,
            fill: colour,
          })
        : el('rect', {
            x: x + 1 + (i * (w - 2)) / 3,
            y: y + h * 0.3,
            width: (w - 2) / 3 - 0.8,
            height: h * 0.4,
            fill: colour,
          }),
    );
  }
  return group('sign', parts);
}

/** Rain streaks or falling snow; clouds belong to the sky, mist and haze are separate layers (see `veil`). */
export function weatherLayer(weather: Weather, style: StyleName, rng: Rng): string[] {
  if (weather === 'rainy') {
    const colour = style === 'neon_night' ? '#9fd8ff' : '#ffffff';
    const streaks = Array.from({ length: 45 }, () => {
      const x = rng.range(0, 66);
      const y = rng.range(-2, 62);
      return `M${num(x)} ${num(y)} l-0.8 3`;
    });
    return [group('rain', [`<path d="${streaks.join(' ')}" stroke="${colour}" stroke-width="0.25" opacity="0.45"/>`])];
  }
  if (weather === 'snowy')
    return [
      group(
        'snowfall',
        Array.from({ length: 55 }, () =>
          el('circle', { cx: rng.range(0, 64), cy: rng.range(0, 64), r: rng.range(0.3, 0.7), fill: '#ffffff' }),
        ),
      ),
    ];
  return [];
}

/** A translucent sheet, denser towards the horizon: the mist and haze that make jiangnan scenes soft. */
export function veil(layer: string, colour: string, opacity: number, horizon: number): string {
  if (opacity <= 0) return '';
  const id = `veil-${layer}`;
  const mid = num(Math.min(0.95, horizon / 64));
  return `<defs><linearGradient id="${id}" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${colour}" stop-opacity="${num(opacity * 0.6)}"/><stop offset="${mid}" stop-color="${colour}" stop-opacity="${num(opacity)}"/><stop offset="1" stop-color="${colour}" stop-opacity="${num(opacity * 0.5)}"/></linearGradient></defs><rect width="64" height="64" fill="url(#${id})"/>`;
}
