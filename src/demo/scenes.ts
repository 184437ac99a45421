// Sample scenes for the demo dataset, pure: seed → SVG picture + four-part caption (subject, scene, style, detail).
// A first small generator; the full multi-style one is issue #4.

export interface Scene {
  svg: string;
  caption: string;
}

/** mulberry32: a tiny seeded PRNG, so the same seed draws the same dataset on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Style {
  sky: string[];
  wall: string;
  roof: string;
  water: string;
  hasMist: boolean;
  words: { scene: string; style: string; details: string[] };
}

export const STYLES: Record<string, Style> = {
  jiangnan: {
    sky: ['#dfe6ea', '#e8ecef', '#d5dde3'],
    wall: '#f4f4f0',
    roof: '#26282b',
    water: '#6f8f8c',
    hasMist: true,
    words: { scene: 'water town by a canal', style: 'jiangnan style, white walls and black tiles', details: ['misty morning', 'stone bridge', 'calm water reflections'] },
  },
  desert: {
    sky: ['#f3c27a', '#f0b060', '#f6d49a'],
    wall: '#c98b4e',
    roof: '#9a5f2e',
    water: '#4f9fbf',
    hasMist: false,
    words: { scene: 'oasis town', style: 'desert town style, adobe walls', details: ['hot afternoon', 'palm shade', 'clear sky'] },
  },
};

export function drawScene(style: Style, seed: number, sizePx: number): Scene {
  const rand = seededRandom(seed);
  const s = sizePx / 64;
  const pick = <T>(items: T[]) => items[Math.floor(rand() * items.length)]!;
  const horizon = 34 + rand() * 8;
  const parts = [`<rect width="64" height="64" fill="${pick(style.sky)}"/>`, `<rect y="${horizon + 8}" width="64" height="${64 - horizon}" fill="${style.water}"/>`];
  const houses = 2 + Math.floor(rand() * 3);
  for (let i = 0; i < houses; i++) {
    const x = i * (64 / houses) + rand() * 4;
    const w = 64 / houses - 4;
    const h = 10 + rand() * 10;
    const top = horizon + 8 - h;
    parts.push(`<rect x="${x}" y="${top}" width="${w}" height="${h}" fill="${style.wall}"/>`);
    parts.push(`<polygon points="${x - 2},${top} ${x + w / 2},${top - 6 - rand() * 3} ${x + w + 2},${top}" fill="${style.roof}"/>`);
    parts.push(`<rect x="${x + w / 2 - 1.5}" y="${top + h - 5}" width="3" height="5" fill="${style.roof}"/>`);
  }
  const hasBridge = rand() < 0.6;
  if (hasBridge) parts.push(`<path d="M 8 ${horizon + 16} Q 32 ${horizon + 2} 56 ${horizon + 16}" stroke="#8a8a84" stroke-width="3" fill="none"/>`);
  if (style.hasMist) parts.push(`<rect width="64" height="64" fill="#ffffff" opacity="${0.15 + rand() * 0.2}"/>`);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${sizePx}" height="${sizePx}" viewBox="0 0 64 64" transform="scale(${s})">${parts.join('')}</svg>`;
  const subject = `${houses} houses${hasBridge ? ' and a bridge' : ''}`;
  return { svg, caption: `${subject}, ${style.words.scene}, ${style.words.style}, ${pick(style.words.details)}` };
}
