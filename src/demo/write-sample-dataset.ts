// The demo-data shell: renders sample scenes with sharp and writes PNGs plus metadata.csv, each file atomically.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { metadataCsvText, parseMetadataCsv } from '../dataset/index.js';
import { UsageError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { drawScene } from './scenes.js';
import { sceneSeed } from './seeded-random.js';
import { STYLE_NAMES, type StyleName } from './styles.js';

export interface SampleDatasetOptions {
  dir: string;
  styles: readonly StyleName[];
  /** Images per style. */
  count: number;
  seed: number;
  sizePx: number;
}

export interface SampleDatasetResult {
  files: string[];
  metadataPath: string;
}

const SAMPLE_FILE = new RegExp(`^(${STYLE_NAMES.join('|')})_\\d{3,}\\.png$`);

/** `jiangnan_007.png` and `metadata.csv` are demo-data's own files; anything else in `--out` belongs to someone. */
export function isSampleFileName(name: string): boolean {
  return name === 'metadata.csv' || SAMPLE_FILE.test(name);
}

export function sampleFileName(style: StyleName, index: number): string {
  return `${style}_${String(index).padStart(3, '0')}.png`;
}

/** Throws a usage error naming the flag when a number is out of range. */
export function checkSampleOptions({
  count,
  seed,
  sizePx,
}: Pick<SampleDatasetOptions, 'count' | 'seed' | 'sizePx'>): void {
  const checks: [string, number, number, number][] = [
    ['--count', count, 1, 100_000],
    ['--seed', seed, 0, 2 ** 32 - 1],
    ['--size', sizePx, 16, 2048],
  ];
  for (const [flag, value, min, max] of checks) {
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new UsageError(`expected a whole number from ${min} to ${max}, got \`${value}\``, {
        code: 'usage',
        culprit: flag,
      });
    }
  }
}

/** Refuses a folder holding anything demo-data did not write: re-running replaces its own output only. */
function checkOutputFolder(dir: string): void {
  if (!existsSync(dir)) return;
  const foreign = readdirSync(dir).find((name) => !name.startsWith('.') && !isSampleFileName(name));
  const metadata = join(dir, 'metadata.csv');
  const foreignRow = foreign === undefined && existsSync(metadata) ? readForeignRow(metadata) : undefined;
  const culprit = foreign !== undefined ? join(dir, foreign) : foreignRow;
  if (culprit !== undefined) {
    throw new UsageError('the output folder holds files that `demo-data` did not write', {
      code: 'out_not_sample_folder',
      culprit,
      hint: 'choose a new or empty folder with `--out`; demo-data never overwrites your images or captions',
    });
  }
}

/** First metadata row that names a file demo-data would not write, as `path:line`. */
function readForeignRow(metadataPath: string): string | undefined {
  try {
    const row = parseMetadataCsv(readFileSync(metadataPath, 'utf8')).find((r) => !isSampleFileName(r.fileName));
    return row ? `${metadataPath}:${row.line}` : undefined;
  } catch {
    return metadataPath;
  }
}

/** Writes `count` scenes per style into one folder; `metadata.csv` lists them all (what `lora-scripts train` reads). */
export async function writeSampleDataset(options: SampleDatasetOptions): Promise<SampleDatasetResult> {
  checkSampleOptions(options);
  checkOutputFolder(options.dir);
  const files: string[] = [];
  const rows: { fileName: string; caption: string }[] = [];
  for (const style of options.styles) {
    for (let i = 0; i < options.count; i++) {
      const scene = drawScene(style, sceneSeed(options.seed, style, i), options.sizePx);
      const name = sampleFileName(style, i);
      writeFileAtomic(join(options.dir, name), await sharp(Buffer.from(scene.svg)).png().toBuffer());
      files.push(name);
      rows.push({ fileName: name, caption: scene.caption });
    }
  }
  const metadataPath = join(options.dir, 'metadata.csv');
  writeFileAtomic(metadataPath, metadataCsvText(rows));
  // A smaller re-run leaves older samples behind; train would reject them as images without captions.
  const written = new Set(files);
  for (const name of readdirSync(options.dir))
    if (SAMPLE_FILE.test(name) && !written.has(name)) rmSync(join(options.dir, name));
  return { files, metadataPath };
}
