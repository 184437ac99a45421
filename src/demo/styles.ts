// The style table: what each sample style draws (palette, layout odds, moods) and the words its captions use.
import { UsageError } from '../errors.js';

/** `generic` has no regional style: it pretrains the demo base model on houses, water and trees without the target look. */
export const STYLE_NAMES = ['jiangnan', 'lingnan', 'northern_snow', 'desert_town', 'neon_night', 'generic'] as const;
export type StyleName = (typeof STYLE_NAMES)[number];

export type TimeOfDay = 'morning' | 'noon' | 'afternoon' | 'dusk' | 'night';
/** Adjectives, so that a caption's detail part is simply `<weather> <time of day>`. */
export type Weather = 'misty' | 'rainy' | 'overcast' | 'hazy' | 'sunny' | 'clear' | 'snowy' | 'moonlit';
export type TreeKind = 'willow' | 'banyan' | 'pine' | 'bare' | 'palm' | 'round';

export interface Mood {
  timeOfDay: TimeOfDay;
  weather: Weather;
  /** Sky gradient, zenith to horizon. */
  sky: readonly [string, string];
}

export interface Palette {
  walls: readonly string[];
  roofs: readonly string[];
  /** Ground (or street, snow, sand) in front of the houses when there is no water. */
  ground: string;
  water: readonly [string, string];
  /** Far layer: hills, dunes or skyline. */
  far: string;
  leaves: readonly string[];
  trunk: string;
}

export interface StyleSpec {
  palette: Palette;
  houses: readonly [number, number];
  /** Where the houses stand (y in the 64-unit canvas); below it is water or ground. */
  baseline: readonly [number, number];
  houseHeight: readonly [number, number];
  /** Probability of a canal or river in front of the houses; bridges and boats need water. */
  water: number;
  bridge: number;
  boat: number;
  trees: readonly [number, number];
  treeKinds: readonly TreeKind[];
  /** Probability that some eaves carry red lanterns. */
  lanterns: number;
  signs: readonly [number, number];
  /** Always-on haze (0–1), on top of misty or hazy moods: mist is part of the jiangnan look, not a weather. */
  haze: number;
  moods: readonly Mood[];
  words: {
    house: readonly [string, string];
    bridge: string;
    boat: string;
    scene: string;
    dryScene: string;
    style: string | null;
  };
}

const mood = (timeOfDay: TimeOfDay, weather: Weather, top: string, horizon: string): Mood => ({
  timeOfDay,
  weather,
  sky: [top, horizon],
});

export const STYLES: Record<StyleName, StyleSpec> = {
  jiangnan: {
    palette: {
      walls: ['#f3f2ec', '#eeede6', '#f6f5f1'],
      roofs: ['#25272a', '#2e3033'],
      ground: '#9aa29c',
      water: ['#93aba5', '#6f8d88'],
      far: '#b9c3c4',
      leaves: ['#9db98a', '#8fae7d'],
      trunk: '#4d4a42',
    },
    houses: [2, 4],
    baseline: [37, 41],
    houseHeight: [11, 16],
    water: 1,
    bridge: 0.55,
    boat: 0.45,
    trees: [0, 2],
    treeKinds: ['willow'],
    lanterns: 0.25,
    signs: [0, 0],
    haze: 0.16,
    moods: [
      mood('morning', 'misty', '#d6dde0', '#eef0ee'),
      mood('afternoon', 'misty', '#d2d9dc', '#ebedeb'),
      mood('afternoon', 'rainy', '#c3cbcf', '#dfe3e2'),
      mood('noon', 'overcast', '#cfd5d8', '#e7e9e7'),
      mood('dusk', 'hazy', '#c9cbd3', '#e8e1da'),
    ],
    words: {
      house: ['house', 'houses'],
      bridge: 'a stone bridge',
      boat: 'a wooden boat',
      scene: 'canal town scene',
      dryScene: 'canal town scene',
      style: 'jiangnan style with white walls and black tiles',
    },
  },
  lingnan: {
    palette: {
      walls: ['#d99a2b', '#c2552f', '#e0a73a', '#b84a2a', '#d7783f'],
      roofs: ['#8c3b22', '#a4502c'],
      ground: '#aaa59b',
      water: ['#4f9bc4', '#2f6f94'],
      far: '#7fb07a',
      leaves: ['#2d6a31', '#3b843c', '#4c9a44'],
      trunk: '#6b4a2e',
    },
    houses: [2, 4],
    baseline: [52, 55],
    houseHeight: [22, 30],
    water: 0,
    bridge: 0,
    boat: 0,
    trees: [1, 2],
    treeKinds: ['banyan'],
    lanterns: 0.5,
    signs: [0, 0],
    haze: 0,
    moods: [
      mood('morning', 'sunny', '#4aa3e4', '#cde9f8'),
      mood('noon', 'sunny', '#2f8fdb', '#a8d7f4'),
      mood('afternoon', 'sunny', '#3d96da', '#f1dca6'),
      mood('afternoon', 'clear', '#4a9fe0', '#c4e3f5'),
    ],
    words: {
      house: ['shophouse', 'shophouses'],
      bridge: 'a bridge',
      boat: 'a boat',
      scene: 'old street scene',
      dryScene: 'old street scene',
      style: 'lingnan style with ochre arcades',
    },
  },
  northern_snow: {
    palette: {
      walls: ['#a8342a', '#b3402f', '#9a2f28'],
      roofs: ['#55585e', '#4a4c52'],
      ground: '#f2f5f8',
      water: ['#cfe0ec', '#b5cddf'],
      far: '#d3dfeb',
      leaves: ['#2c4a37', '#36573f'],
      trunk: '#4a3a30',
    },
    houses: [2, 3],
    baseline: [46, 50],
    houseHeight: [13, 18],
    water: 0,
    bridge: 0,
    boat: 0,
    trees: [0, 3],
    treeKinds: ['pine', 'bare'],
    lanterns: 0.8,
    signs: [0, 0],
    haze: 0,
    moods: [
      mood('morning', 'clear', '#9fc4e8', '#e6f0f8'),
      mood('afternoon', 'snowy', '#c4ced8', '#eef1f4'),
      mood('morning', 'snowy', '#bfcbd6', '#ebeff3'),
      mood('noon', 'sunny', '#8dbce6', '#e2eef8'),
      mood('dusk', 'clear', '#8d93b8', '#ecd0c8'),
    ],
    words: {
      house: ['house', 'houses'],
      bridge: 'a bridge',
      boat: 'a boat',
      scene: 'snowy courtyard scene',
      dryScene: 'snowy courtyard scene',
      style: 'northern snow style with red walls and snowy roofs',
    },
  },
  desert_town: {
    palette: {
      walls: ['#d9a05c', '#c98a4a', '#e2b06e', '#cf9350'],
      roofs: ['#e6c48f', '#dcb47c'],
      ground: '#e8bb78',
      water: ['#3f9fc0', '#2b7f9f'],
      far: '#e9cf9c',
      leaves: ['#4a8a36', '#3d7a30'],
      trunk: '#8a5a2b',
    },
    houses: [2, 4],
    baseline: [44, 48],
    houseHeight: [10, 17],
    water: 0,
    bridge: 0,
    boat: 0,
    trees: [1, 3],
    treeKinds: ['palm'],
    lanterns: 0,
    signs: [0, 0],
    haze: 0,
    moods: [
      mood('morning', 'sunny', '#4a9ad8', '#f4e0b0'),
      mood('noon', 'sunny', '#2f86d2', '#f0d8a4'),
      mood('afternoon', 'sunny', '#3f8fd4', '#f6d698'),
      mood('afternoon', 'hazy', '#8fb0c8', '#f2d6a0'),
      mood('dusk', 'clear', '#6f8cc0', '#f4b36e'),
    ],
    words: {
      house: ['house', 'houses'],
      bridge: 'a bridge',
      boat: 'a boat',
      scene: 'desert town scene',
      dryScene: 'desert town scene',
      style: 'desert town style with adobe walls and flat roofs',
    },
  },
  neon_night: {
    palette: {
      walls: ['#1c1e2c', '#22243a', '#191a26', '#262838'],
      roofs: ['#2d3046'],
      ground: '#11121c',
      water: ['#1a1c2c', '#0e0f18'],
      far: '#141528',
      leaves: ['#1e3a2c'],
      trunk: '#1a1a1a',
    },
    houses: [3, 5],
    baseline: [48, 51],
    houseHeight: [22, 40],
    water: 0,
    bridge: 0,
    boat: 0,
    trees: [0, 0],
    treeKinds: ['round'],
    lanterns: 0,
    signs: [2, 5],
    haze: 0,
    moods: [
      mood('night', 'rainy', '#080a18', '#241a40'),
      mood('night', 'moonlit', '#0a0c1e', '#1e1838'),
      mood('night', 'clear', '#070710', '#2a1640'),
      mood('night', 'misty', '#10121f', '#2c2444'),
    ],
    words: {
      house: ['building', 'buildings'],
      bridge: 'a bridge',
      boat: 'a boat',
      scene: 'night street scene',
      dryScene: 'night street scene',
      style: 'neon night style with pink and cyan lights',
    },
  },
  generic: {
    palette: {
      walls: ['#d8d2c4', '#c9cfd6', '#e0d6c0', '#cdd5c4'],
      roofs: ['#8b5a3c', '#6b6f75', '#9a6b4a'],
      ground: '#7fae5a',
      water: ['#5b9ad0', '#3f7db5'],
      far: '#8fbf74',
      leaves: ['#4f9a3e', '#5aa845', '#3f8a36'],
      trunk: '#7a5534',
    },
    houses: [1, 4],
    baseline: [38, 44],
    houseHeight: [9, 14],
    water: 0.7,
    bridge: 0.5,
    boat: 0.4,
    trees: [0, 3],
    treeKinds: ['round'],
    lanterns: 0,
    signs: [0, 0],
    haze: 0,
    moods: [
      mood('morning', 'sunny', '#8ec2ea', '#e4f0f6'),
      mood('noon', 'sunny', '#6fb0e6', '#d2e8f6'),
      mood('afternoon', 'overcast', '#a7b8c6', '#dde4ea'),
      mood('afternoon', 'clear', '#7db6e6', '#d8eaf5'),
    ],
    words: {
      house: ['house', 'houses'],
      bridge: 'a wooden bridge',
      boat: 'a rowing boat',
      scene: 'riverside scene',
      dryScene: 'village scene',
      style: null,
    },
  },
};

/** `--style` value → styles to draw; `all` draws every style. */
export function parseStyleNames(value: string): StyleName[] {
  if (value === 'all') return [...STYLE_NAMES];
  const found = STYLE_NAMES.find((name) => name === value);
  if (!found) {
    throw new UsageError(`unknown style \`${value}\``, {
      code: 'unknown_style',
      culprit: '--style',
      hint: `choose one of ${STYLE_NAMES.join(', ')}, or \`all\``,
    });
  }
  return [found];
}
