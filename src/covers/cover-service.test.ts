// The cover service on a temp workspace with a fake worker that paints real PNGs: files, cache, titles, errors.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PARAMETERS_KEY, readPngText, withPngText } from '../generate/index.js';
import type { Place, ResolvedStyle } from '../library/index.js';
import type { RenderRequest } from '../render-worker/index.js';
import { type CoverServiceDeps, createCoverService } from './cover-service.js';
import { type CoverRequestInput, coverRequestSchema } from './request.js';

const JIANGNAN: ResolvedStyle = {
  style: 'jiangnan_style',
  version: 1,
  sha256: 'a'.repeat(64),
  lora_path: 'library/a.safetensors',
  strength: 0.7,
  prompt_template: '{title}, water town, {trigger_words}',
  trigger_words: ['jiangnan style'],
  base_model: 'models/base.safetensors',
  matched: 'province',
};

let workspace: string;
let calls: RenderRequest[];

/** Paints each seed as a flat colour, with the infotext in the PNG as the real worker writes it. */
const paintingWorker: CoverServiceDeps['renderer'] = {
  async render(request) {
    calls.push(request);
    return Promise.all(
      request.seeds.map(async (seed) => {
        const background = { r: seed % 256, g: 120, b: 90 };
        const size = { width: request.width, height: request.height };
        const png = await sharp({ create: { ...size, channels: 3, background } })
          .png()
          .toBuffer();
        const infotext = `${request.prompt}\nSteps: 20, Seed: ${seed}`;
        return { png: withPngText(png, PARAMETERS_KEY, infotext, 'fake'), seed, infotext };
      }),
    );
  },
};

/** Zhejiang maps to jiangnan; any other place is unmapped. */
async function resolvePlace(place: Place): Promise<ResolvedStyle | null> {
  return place.province === '浙江' ? JIANGNAN : null;
}

const service = () => createCoverService({ workspace, resolvePlace, renderer: paintingWorker });
const request = (input: Partial<CoverRequestInput> = {}) =>
  coverRequestSchema.parse({ province: '浙江', title: '江南水乡 · 雨中游', size: '128x128', seed: 5, ...input });

beforeEach(() => {
  workspace = mkdtempSync(join(tmpdir(), 'lora-covers-'));
  calls = [];
});

afterEach(() => {
  rmSync(workspace, { recursive: true, force: true });
});

describe('createCoverService', () => {
  it("writes n covers in the place's style under covers/<key>/, titled, with their infotext", async () => {
    const result = await service().makeCovers(request({ n: 2 }));
    expect(result).toMatchObject({ style: 'jiangnan_style', version: 1, matched: 'province', cached: false });
    expect(result.prompt).toBe('江南水乡 · 雨中游, water town, jiangnan style');
    expect(result.covers.map((c) => c.seed)).toEqual([5, 6]);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({
      base_model: 'models/base.safetensors', // no such file in the workspace: passed on as a hub id
      loras: [{ path: join(workspace, 'library/a.safetensors'), weight: 0.7 }],
    });
    for (const [i, cover] of result.covers.entries()) {
      expect(cover.path).toBe(`covers/${result.key.slice(0, 24)}/${i}.png`);
      const png = readFileSync(join(workspace, cover.path));
      expect(readPngText(png, 'test').get(PARAMETERS_KEY)).toBe(cover.infotext);
      // The title band darkened the bottom rows of the flat picture; the top is untouched.
      const { data } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      expect(data[1]).toBe(120);
      expect(data[(127 * 128 + 2) * 3 + 1]).toBeLessThan(100);
    }
  });

  it('renders the same request once: the second reads the cache, also when both come at the same time', async () => {
    const covers = service();
    const first = await covers.makeCovers(request());
    const second = await covers.makeCovers(request());
    expect(calls).toHaveLength(1);
    expect(second).toEqual({ ...first, cached: true });
    // A new service (a restarted server) finds the same files.
    expect((await service().makeCovers(request())).cached).toBe(true);
    expect(calls).toHaveLength(1);

    const together = await Promise.all([
      covers.makeCovers(request({ seed: 9 })),
      covers.makeCovers(request({ seed: 9 })),
    ]);
    expect(calls).toHaveLength(2);
    expect(together.map((r) => r.cached).sort()).toEqual([false, true]);
  });

  it('renders for itself when the identical request it waited on was cancelled', async () => {
    const covers = service();
    const gone = new AbortController();
    gone.abort(new Error('client went away'));
    const [cancelled, waiting] = await Promise.allSettled([
      covers.makeCovers(request(), gone.signal),
      covers.makeCovers(request()),
    ]);
    expect(cancelled).toMatchObject({ status: 'rejected', reason: new Error('client went away') });
    expect(waiting).toMatchObject({ status: 'fulfilled', value: { cached: false } });
    expect(calls).toHaveLength(1);
  });

  it('renders again when a cached picture is gone or the manifest is damaged', async () => {
    const covers = service();
    const first = await covers.makeCovers(request());
    rmSync(join(workspace, first.covers[0]!.path));
    expect((await covers.makeCovers(request())).cached).toBe(false);
    writeFileSync(join(workspace, `covers/${first.key.slice(0, 24)}/cover.json`), '{"key": 1');
    expect((await covers.makeCovers(request())).cached).toBe(false);
    expect(calls).toHaveLength(3);
  });

  it('leaves the picture bare with title_on_image: false', async () => {
    const result = await service().makeCovers(request({ title_on_image: false }));
    const { data } = await sharp(join(workspace, result.covers[0]!.path))
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect(data[(127 * 128 + 2) * 3 + 1]).toBe(120);
    expect(result.title).toBeNull();
  });

  it('refuses a place with no mapping, naming it and saying what to do, before rendering', async () => {
    const refusal = service().makeCovers(request({ province: undefined, city: '成都' }));
    await expect(refusal).rejects.toMatchObject({
      code: 'place_not_mapped',
      message: expect.stringContaining('city `成都`'),
    });
    await expect(refusal).rejects.toMatchObject({ hint: expect.stringContaining('region mapping') });
    expect(calls).toHaveLength(0);
  });

  it('refuses a title the font cannot draw, and a version with no base model, before rendering', async () => {
    await expect(service().makeCovers(request({ title: '雨 🌧' }))).rejects.toMatchObject({
      code: 'title_glyph_missing',
    });
    const noBase = createCoverService({
      workspace,
      resolvePlace: async () => ({ ...JIANGNAN, base_model: null }),
      renderer: paintingWorker,
    });
    await expect(noBase.makeCovers(request())).rejects.toMatchObject({ code: 'cover_base_model_unknown' });
    expect(calls).toHaveLength(0);
  });

  it('opens a base model in the workspace by its absolute path', async () => {
    writeFileSync(join(workspace, 'base.safetensors'), '');
    const covers = createCoverService({
      workspace,
      resolvePlace: async () => ({ ...JIANGNAN, base_model: null }),
      renderer: paintingWorker,
      defaultBaseModel: 'base.safetensors',
    });
    await covers.makeCovers(request());
    expect(calls[0]!.base_model).toBe(join(workspace, 'base.safetensors'));
    expect(existsSync(join(workspace, 'covers'))).toBe(true);
  });
});
