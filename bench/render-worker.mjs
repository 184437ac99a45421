// The render worker on this machine with the demo base model: the cold start (process + base model), renders per
// second with one LoRA and alternating among three, and what the first render with a new LoRA costs (the LoRA load)
// next to a render that only switches adapters. Prints JSON; never run by the tests.
// `npm run build && node bench/render-worker.mjs [size] [steps] [renders]`
// (or, without a build: `BENCH_SRC=1 node_modules/.bin/tsx bench/render-worker.mjs`)
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const source = process.env.BENCH_SRC ? 'src/render-worker/index.ts' : 'dist/render-worker/index.js';
const { startRenderWorker } = await import(join(ROOT, source));
const [size = 128, steps = 12, renders = 9] = process.argv.slice(2).map(Number);
const STYLES = join(ROOT, 'tests/fixtures/lora/styles');
// A third style: a copy under another path is another adapter to load, as a third trained style would be.
const scratch = mkdtempSync(join(tmpdir(), 'render-bench-'));
const third = join(scratch, 'third_style.safetensors');
copyFileSync(join(STYLES, 'neon_night_style.safetensors'), third);
const loras = [join(STYLES, 'jiangnan_style.safetensors'), join(STYLES, 'neon_night_style.safetensors'), third];

const worker = startRenderWorker({ env: process.env });
const request = (lora, seed) => ({
  base_model: join(ROOT, 'models/demo-sd1.safetensors'),
  prompt: 'three houses and a stone bridge, canal town scene',
  negative_prompt: '',
  seeds: [seed],
  steps,
  cfg_scale: 5,
  width: size,
  height: size,
  sampler: 'DPM++ 2M',
  loras: lora ? [{ path: lora, weight: 0.8 }] : [],
});

async function timed(req) {
  const start = performance.now();
  await worker.render(req);
  return (performance.now() - start) / 1000;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

try {
  const coldStart = await timed(request(null, 1));
  const firstLoad = [];
  for (const lora of loras) firstLoad.push(await timed(request(lora, 2)));
  const oneStyle = [];
  for (let i = 0; i < renders; i++) oneStyle.push(await timed(request(loras[0], 10 + i)));
  const alternating = [];
  for (let i = 0; i < renders; i++) alternating.push(await timed(request(loras[i % 3], 10 + i)));
  // The switch cost, interleaved so that a busy machine slows both kinds alike: A A B A A C …, a render after one
  // with the same LoRA is steady, one after another LoRA switches.
  const same = [];
  const switched = [];
  let previous = loras[0];
  for (let i = 0; i < renders * 3; i++) {
    const lora = i % 3 === 2 ? loras[1 + (Math.floor(i / 3) % 2)] : loras[0];
    (lora === previous ? same : switched).push(await timed(request(lora, 100 + i)));
    previous = lora;
  }
  const steady = median(oneStyle);
  console.log(
    JSON.stringify(
      {
        size,
        steps,
        cold_start_s: +coldStart.toFixed(2),
        renders_per_s_one_style: +(renders / oneStyle.reduce((a, b) => a + b, 0)).toFixed(3),
        renders_per_s_alternating_three: +(renders / alternating.reduce((a, b) => a + b, 0)).toFixed(3),
        median_render_s: +steady.toFixed(3),
        median_render_switching_s: +median(alternating).toFixed(3),
        lora_switch_s: +(median(switched) - median(same)).toFixed(3),
        first_render_with_new_lora_s: firstLoad.map((s) => +s.toFixed(3)),
        stats: worker.stats(),
      },
      null,
      2,
    ),
  );
} finally {
  await worker.close();
  rmSync(scratch, { recursive: true, force: true });
}
