// `lora-scripts covers` end to end: a workspace library mapping 浙江 to the fixture jiangnan LoRA, the real render
// worker on the shipped demo base model. The covers score as jiangnan above the base model's own pictures, the
// title is drawn, and the same command again is read from the cache.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CoverResult } from '../covers/index.js';
import { PACKAGE_ROOT } from '../engine/index.js';
import { openSqliteLibrary } from '../library/index.js';
import { startRenderWorker } from '../render-worker/index.js';
import { STORE_FILE } from '../store/index.js';
import { buildReferenceClassifier, featuresOfImage, styleScore } from '../style/index.js';
import { coversCommand } from './commands/covers.js';
import type { CommandContext } from './context.js';

const BASE_MODEL = join(PACKAGE_ROOT, 'models', 'demo-sd1.safetensors');
const JIANGNAN = join(PACKAGE_ROOT, 'tests', 'fixtures', 'lora', 'styles', 'jiangnan_style.safetensors');
const SCENE = 'three houses and a stone bridge';
const TITLE = '江南水乡 · 雨中游';
// One torch thread: the test machine is shared (see src/generate/run.test.ts).
const ctx: CommandContext = { cwd: '/', env: { ...process.env, OMP_NUM_THREADS: '1' }, verbose: false };

let workspace: string;

beforeAll(async () => {
  workspace = mkdtempSync(join(tmpdir(), 'covers-cli-'));
  mkdirSync(join(workspace, STORE_FILE[0]));
  const library = openSqliteLibrary(join(workspace, ...STORE_FILE), { workspace });
  await library.addVersion({
    style: 'jiangnan_style',
    file: JIANGNAN,
    strength: 0.8,
    base_model: BASE_MODEL,
    prompt_template: '{prompt}, canal town scene',
  });
  await library.changeStatus('jiangnan_style', 1, 'promote');
  await library.setRegion({ level: 'province', place: '浙江', style: 'jiangnan_style' });
  await library.close();
});

afterAll(() => rmSync(workspace, { recursive: true, force: true }));

/** Runs the command with `--json` and returns what it printed. */
async function covers(flags: Record<string, unknown>): Promise<CoverResult> {
  const printed: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    printed.push(String(chunk));
    return true;
  });
  try {
    const code = await coversCommand({ workspace, province: '浙江', title: TITLE, json: true, ...flags }, ctx);
    expect(code).toBe(0);
  } finally {
    spy.mockRestore();
  }
  return JSON.parse(printed.join('')) as CoverResult;
}

async function rgb(path: string): Promise<Buffer> {
  return sharp(path).removeAlpha().raw().toBuffer();
}

describe('lora-scripts covers', () => {
  const common = { prompt: SCENE, n: 2, seed: 11, size: '64x64' };

  it("renders covers in the place's style: they score as jiangnan above the base model's pictures", async () => {
    const bare = await covers({ ...common, titleOnImage: false });
    expect(bare).toMatchObject({ style: 'jiangnan_style', matched: 'province', cached: false, title: null });
    const coverPaths = bare.covers.map((c) => join(workspace, c.path));

    // The same seeds and settings without the LoRA: what the base model draws by itself.
    const worker = startRenderWorker({ env: ctx.env });
    const plain = await worker
      .render({
        base_model: BASE_MODEL,
        prompt: `${SCENE}, canal town scene`,
        negative_prompt: '',
        seeds: [11, 12],
        steps: 20,
        cfg_scale: 7,
        width: 64,
        height: 64,
        sampler: 'Euler a',
        loras: [],
      })
      .finally(() => worker.close());
    const classifier = await buildReferenceClassifier({ target: 'jiangnan' });
    const styled = styleScore(classifier, 'jiangnan', await Promise.all(coverPaths.map((p) => featuresOfImage(p))));
    const base = styleScore(
      classifier,
      'jiangnan',
      await Promise.all(
        plain.map(async (image, i) => {
          const path = join(workspace, `plain-${i}.png`);
          await sharp(image.png).toFile(path);
          return featuresOfImage(path);
        }),
      ),
    );
    // Measured: covers 0.81, the base model alone 0.02 (seeds 11 and 12).
    expect(styled - base).toBeGreaterThan(0.4);
  }, 300_000);

  it('sets the title on the same pictures, and reads a repeated request from the cache', async () => {
    const titled = await covers(common);
    expect(titled.cached).toBe(false);
    const bare = await covers({ ...common, titleOnImage: false });
    expect(bare.cached).toBe(true);
    const [withTitle, without] = await Promise.all([
      rgb(join(workspace, titled.covers[0]!.path)),
      rgb(join(workspace, bare.covers[0]!.path)),
    ]);
    // The same picture above the band (same seed, same render), the title's band at the bottom.
    expect(withTitle.subarray(0, 64 * 3 * 10).equals(without.subarray(0, 64 * 3 * 10))).toBe(true);
    expect(withTitle.subarray(64 * 3 * 54).equals(without.subarray(64 * 3 * 54))).toBe(false);

    const again = await covers(common);
    expect(again).toEqual({ ...titled, cached: true });
    expect(readFileSync(join(workspace, again.covers[1]!.path)).subarray(1, 4).toString()).toBe('PNG');
  }, 300_000);

  it('exits with a hint for an unmapped place and names a bad flag', async () => {
    await expect(coversCommand({ workspace, city: '成都', title: TITLE }, ctx)).rejects.toMatchObject({
      code: 'place_not_mapped',
      hint: expect.stringContaining('region mapping'),
    });
    await expect(coversCommand({ workspace, city: '成都', title: TITLE, size: '100x3' }, ctx)).rejects.toThrow(
      /--size/,
    );
    await expect(coversCommand({ workspace, title: TITLE }, ctx)).rejects.toThrow(/--region: send `city`/);
  });
});
