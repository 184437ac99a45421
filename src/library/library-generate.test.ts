// `<lora:NAME:w>` through the style library in a real generate on the shipped demo model: the promoted version's
// file is used (same pixels as the file itself), promoting another version changes the picture, and a name the
// library does not have still comes from the LoRA folders.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../engine/index.js';
import {
  type GenerateOptions,
  type GenerationResult,
  PARAMETERS_KEY,
  readPngText,
  runGeneration,
} from '../generate/index.js';
import { libraryLoraLookup, openSqliteLibrary, type StyleLibrary, WORKSPACE_STORE_FILE } from './index.js';

const BASE_MODEL = join(PACKAGE_ROOT, 'models', 'demo-sd1.safetensors');
const STYLES = join(PACKAGE_ROOT, 'tests', 'fixtures', 'lora', 'styles');
const SCENE = 'three houses and a stone bridge, canal town scene';
// One torch thread: the same thread count in every run keeps pixels comparable on a busy machine.
const ENV = { ...process.env, OMP_NUM_THREADS: '1' };

let workspace: string;
let library: StyleLibrary;

beforeAll(async () => {
  workspace = mkdtempSync(join(tmpdir(), 'lora-library-generate-'));
  library = openSqliteLibrary(join(workspace, ...WORKSPACE_STORE_FILE));
  await library.addVersion({ style: 'town_style', file: join(STYLES, 'jiangnan_style.safetensors') });
  await library.addVersion({ style: 'town_style', file: join(STYLES, 'neon_night_style.safetensors') });
  await library.changeStatus('town_style', 1, 'promote');
});

afterAll(async () => {
  await library.close();
  rmSync(workspace, { recursive: true, force: true });
});

function generate(prompts: string[]): Promise<GenerationResult> {
  const options: GenerateOptions = {
    prompts,
    negativePrompt: '',
    loraFiles: [],
    // The fixtures folder holds `jiangnan_style` and `neon_night_style`, but no `town_style`: that name exists only
    // in the library.
    loraDirs: [STYLES],
    libraryLoras: libraryLoraLookup(workspace),
    baseModel: BASE_MODEL,
    seed: 11,
    steps: 8,
    cfgScale: 5,
    sampler: 'DPM++ 2M',
    scheduleType: 'Automatic',
    width: 64,
    height: 64,
    batchCount: 1,
    batchSize: 1,
    outDir: join(workspace, 'images'),
    env: ENV,
    verbose: false,
    note: () => undefined,
  };
  return runGeneration(options);
}

const pixels = (path: string) => sharp(path).raw().toBuffer();
const parametersText = (path: string) => readPngText(readFileSync(path), path).get(PARAMETERS_KEY) ?? '';

describe('<lora:NAME> through the library', () => {
  it('renders with the promoted version; another promotion renders the other file; folders stay the fallback', async () => {
    const first = await generate([`${SCENE}, <lora:town_style:1>`, `${SCENE}, <lora:jiangnan_style:1>`]);
    const [byLibrary, byFolder] = first.images;
    // the library's copy of the jiangnan file, and the folder's file: the same weights, the same picture
    expect((await pixels(byLibrary!.path)).equals(await pixels(byFolder!.path))).toBe(true);
    expect(parametersText(byLibrary!.path)).toContain('<lora:town_style:1>');
    expect(byLibrary!.parameters.loraHashes.map((l) => l.name)).toEqual(['town_style']);
    expect(byLibrary!.parameters.loraHashes[0]!.hash).toBe(byFolder!.parameters.loraHashes[0]!.hash);

    await library.changeStatus('town_style', 2, 'promote');
    const second = await generate([`${SCENE}, <lora:town_style:1>`, `${SCENE}, <lora:neon_night_style:1>`]);
    const [promotedNeon, folderNeon] = second.images;
    expect((await pixels(promotedNeon!.path)).equals(await pixels(folderNeon!.path))).toBe(true);
    expect((await pixels(promotedNeon!.path)).equals(await pixels(byLibrary!.path))).toBe(false);
  }, 600_000);

  it("answers a name neither the library nor the folders know with the folders' error", async () => {
    await expect(generate([`${SCENE}, <lora:nowhere_style:1>`])).rejects.toMatchObject({ code: 'lora_not_found' });
  });
});
