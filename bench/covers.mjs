// The cover service on this machine with the demo base model: covers per second for one style and alternating among
// three, what batching gives when requests of one style arrive together, a cache hit, and the title's cost on a
// 512 px picture. Prints JSON; never run by the tests.
// `npm run build && node bench/covers.mjs [size] [covers]`
// (or, without a build: `BENCH_SRC=1 node_modules/.bin/tsx bench/covers.mjs`)
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const from = (area) => join(ROOT, process.env.BENCH_SRC ? `src/${area}/index.ts` : `dist/${area}/index.js`);
const { startRenderWorker } = await import(from('render-worker'));
const { coverRequestSchema, createCoverService, drawTitle } = await import(from('covers'));
const sharp = (await import('sharp')).default;

const [size = 64, count = 3] = process.argv.slice(2).map(Number);
const workspace = mkdtempSync(join(tmpdir(), 'covers-bench-'));
const STYLES = join(ROOT, 'tests/fixtures/lora/styles');
// A third style: a copy under another path is another adapter to load, as a third trained style would be.
copyFileSync(join(STYLES, 'jiangnan_style.safetensors'), join(workspace, 'jiangnan.safetensors'));
copyFileSync(join(STYLES, 'neon_night_style.safetensors'), join(workspace, 'neon.safetensors'));
copyFileSync(join(STYLES, 'neon_night_style.safetensors'), join(workspace, 'third.safetensors'));
const PROVINCES = { 浙江: 'jiangnan', 四川: 'neon', 云南: 'third' };
const styleOf = (name) => ({
  style: `${name}_style`,
  version: 1,
  sha256: name.padEnd(64, '0'),
  lora_path: `${name}.safetensors`,
  strength: 0.8,
  prompt_template: '{prompt}, canal town scene',
  trigger_words: [],
  base_model: join(ROOT, 'models/demo-sd1.safetensors'),
  matched: 'province',
});

const worker = startRenderWorker({ env: process.env });
const service = createCoverService({
  workspace,
  resolvePlace: async (place) => (PROVINCES[place.province] ? styleOf(PROVINCES[place.province]) : null),
  renderer: worker,
});
let seed = 0;
const request = (province) =>
  coverRequestSchema.parse({
    province,
    title: '江南水乡 · 雨中游',
    prompt: 'three houses and a stone bridge',
    seed: ++seed,
    size: `${size}x${size}`,
  });

async function timed(run) {
  const start = performance.now();
  const result = await run();
  return { seconds: (performance.now() - start) / 1000, result };
}

const perSecond = (covers, seconds) => Number((covers / seconds).toFixed(3));

const cold = await timed(() => service.makeCovers(request('浙江')));
const one = await timed(async () => {
  for (let i = 0; i < count; i++) await service.makeCovers(request('浙江'));
});
const provinces = Object.keys(PROVINCES);
await Promise.all(provinces.map((p) => service.makeCovers(request(p)))); // every LoRA loaded once
const alternating = await timed(async () => {
  for (let i = 0; i < count; i++) await service.makeCovers(request(provinces[i % 3]));
});
const together = await timed(() =>
  Promise.all(Array.from({ length: count }, () => service.makeCovers(request('浙江')))),
);
const repeat = request('浙江');
await service.makeCovers(repeat);
const hit = await timed(() => service.makeCovers(repeat));
const picture = await sharp({ create: { width: 512, height: 512, channels: 3, background: '#608070' } })
  .png()
  .toBuffer();
await drawTitle(picture, '预热');
const title = await timed(async () => {
  for (let i = 0; i < 10; i++) await drawTitle(picture, '江南水乡 · 雨中游');
});

const stats = worker.stats();
await worker.close();
rmSync(workspace, { recursive: true, force: true });
process.stdout.write(
  `${JSON.stringify(
    {
      size_px: size,
      steps: 20,
      covers: count,
      first_cover_s: Number(cold.seconds.toFixed(2)),
      one_style_covers_per_s: perSecond(count, one.seconds),
      three_styles_alternating_covers_per_s: perSecond(count, alternating.seconds),
      one_style_together_covers_per_s: perSecond(count, together.seconds),
      cache_hit_ms: Number((hit.seconds * 1000).toFixed(1)),
      title_512px_ms: Number(((title.seconds / 10) * 1000).toFixed(1)),
      worker: stats,
    },
    null,
    2,
  )}\n`,
);
