// Caption of a sample scene from what was drawn: `subject, scene, style, detail`, always four comma-separated parts.
import { STYLES, type StyleName, type TimeOfDay, type TreeKind, type Weather } from './styles.js';

/** What a scene contains; the caption is derived from these facts only, so text and picture always agree. */
export interface SceneFacts {
  style: StyleName;
  houses: number;
  hasWater: boolean;
  hasBridge: boolean;
  hasBoat: boolean;
  trees: number;
  treeKind: TreeKind;
  lanterns: number;
  /** Neon signs (neon_night only). */
  signs: number;
  timeOfDay: TimeOfDay;
  weather: Weather;
}

const NUMBER_WORDS = ['no', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight'];

const TREE_WORDS: Record<TreeKind, readonly [string, string]> = {
  willow: ['willow tree', 'willow trees'],
  banyan: ['banyan tree', 'banyan trees'],
  pine: ['snowy pine tree', 'snowy pine trees'],
  bare: ['bare tree', 'bare trees'],
  palm: ['palm tree', 'palm trees'],
  round: ['tree', 'trees'],
};

/** `two willow trees`; a single item reads `a willow tree` except for the main subject (`one house`). */
function counted(n: number, [one, many]: readonly [string, string], isSubject = false): string {
  if (n === 1) return isSubject ? `one ${one}` : `a ${one}`;
  return `${NUMBER_WORDS[n] ?? String(n)} ${many}`;
}

/** Subject items are joined with `and`, never commas: comma-separated parts stay exactly subject, scene, style, detail. */
export function sceneSubject(facts: SceneFacts): string {
  const words = STYLES[facts.style].words;
  const extras: string[] = [];
  if (facts.hasBridge) extras.push(words.bridge);
  if (facts.hasBoat) extras.push(words.boat);
  if (facts.trees > 0) extras.push(counted(facts.trees, TREE_WORDS[facts.treeKind]));
  if (facts.lanterns > 0) extras.push(counted(facts.lanterns, ['red lantern', 'red lanterns']));
  if (facts.signs > 0) extras.push(counted(facts.signs, ['neon sign', 'neon signs']));
  return [counted(facts.houses, words.house, true), ...extras].join(' and ');
}

export function sceneCaption(facts: SceneFacts): string {
  const words = STYLES[facts.style].words;
  const scene = facts.hasWater ? words.scene : words.dryScene;
  return [sceneSubject(facts), scene, words.style ?? 'plain style', `${facts.weather} ${facts.timeOfDay}`].join(', ');
}
