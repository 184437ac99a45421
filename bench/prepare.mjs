// Times `prepare` on 1,000 drawn scenes of 1024 px (JPEG, cached in the temp folder between runs), for several
// concurrency settings: pictures in flight in JS (`--jobs`) × libvips threads per picture. Prints JSON.
// Usage: npm run build && node bench/prepare.mjs [--count 1000] [--runs 1x2,2x1,2x2,4x1,4x2,8x1] [--draw-only]
// (`--runs`: jobs x libvips threads; `--draw-only` just fills the scene cache.)
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';

const repo = resolve(new URL('..', import.meta.url).pathname);
const { drawScene, STYLE_NAMES } = await import(join(repo, 'dist', 'demo', 'index.js'));
const { prepareDataset, DEFAULT_THRESHOLDS, metadataCsvText } = await import(join(repo, 'dist', 'dataset', 'index.js'));
const { CLIP_TOKENIZER_DIR } = await import(join(repo, 'dist', 'engine', 'index.js'));

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const count = Number(arg('count', 1000));
const runs = arg('runs', '1x2,2x1,2x2,4x1,4x2,8x1')
  .split(',')
  .map((r) => r.split('x').map(Number));
const SIZE = 1024;

/** The 1,000 scenes are drawn once and kept: drawing them costs more than preparing them. */
async function cachedScenes() {
  const dir = join(tmpdir(), `lora-scripts-bench-prepare-${SIZE}-${count}`);
  if (existsSync(join(dir, 'metadata.csv'))) return dir;
  const partial = `${dir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  const rows = [];
  for (let i = 0; i < count; i++) {
    const style = STYLE_NAMES[i % STYLE_NAMES.length];
    const scene = drawScene(style, 10_000 + i, SIZE);
    const name = `${style}_${String(i).padStart(4, '0')}.jpg`;
    await sharp(Buffer.from(scene.svg)).jpeg({ quality: 90 }).toFile(join(partial, name));
    rows.push({ fileName: name, caption: scene.caption });
  }
  writeFileSync(join(partial, 'metadata.csv'), metadataCsvText(rows));
  rmSync(dir, { recursive: true, force: true });
  const { renameSync } = await import('node:fs');
  renameSync(partial, dir);
  return dir;
}

const drawStart = performance.now();
const input = await cachedScenes();
const drawSeconds = (performance.now() - drawStart) / 1000;
if (process.argv.includes('--draw-only')) {
  console.log(JSON.stringify({ scenes: input, drawn_s: Number(drawSeconds.toFixed(1)) }));
  process.exit(0);
}
const results = [];
for (const [jobs, vipsThreads] of runs) {
  sharp.concurrency(vipsThreads);
  const out = join(tmpdir(), `lora-scripts-bench-prepared-${process.pid}`);
  rmSync(out, { recursive: true, force: true });
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const { report } = await prepareDataset({
    inputDir: input,
    outDir: out,
    targetPx: 768,
    crop: 'center',
    useBuckets: false,
    isStrict: false,
    triggerWord: null,
    thresholds: DEFAULT_THRESHOLDS,
    metadataPath: null,
    captionExtension: '.txt',
    tokenizerDir: CLIP_TOKENIZER_DIR,
    jobs,
    toolVersion: 'bench',
  });
  const wallSeconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  results.push({
    jobs,
    vips_threads: vipsThreads,
    wall_s: round(wallSeconds, 1),
    images_per_s: round(report.summary.images / wallSeconds, 1),
    cpu_utilisation: round(cpuSeconds / wallSeconds / availableParallelism(), 2),
    // CPU time per picture hardly depends on what else runs on the machine; wall time does.
    cpu_ms_per_image: round((cpuSeconds * 1000) / report.summary.images, 1),
    kept: report.summary.kept,
    findings: report.findings.length,
    written_files: readdirSync(out).length,
  });
  rmSync(out, { recursive: true, force: true });
  console.error(JSON.stringify(results.at(-1)));
}

function round(value, digits) {
  return Number(value.toFixed(digits));
}

const best = results.reduce((a, b) => (b.images_per_s > a.images_per_s ? b : a));
console.log(
  JSON.stringify(
    {
      images: count,
      size_px: SIZE,
      target_px: 768,
      cores: availableParallelism(),
      cpu: cpus()[0]?.model,
      load_average_at_end: loadavg().map((l) => round(l, 2)),
      scenes_drawn_s: round(drawSeconds, 1),
      runs: results,
      best: { jobs: best.jobs, vips_threads: best.vips_threads, images_per_s: best.images_per_s },
    },
    null,
    2,
  ),
);
