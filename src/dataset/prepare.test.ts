// `prepare` on real pictures: the drawn sample scenes stay clean, and deliberately broken copies (blurred, tiny,
// duplicated, truncated, EXIF-rotated, under-/over-exposed, mis-captioned) are each found and named.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { drawScene, writeSampleDataset } from '../demo/index.js';
import { CLIP_TOKENIZER_DIR } from '../engine/paths.js';
import { parseMetadataCsv } from './captions.js';
import { DEFAULT_THRESHOLDS } from './findings.js';
import { hashDistance, perceptualHash } from './perceptual-hash.js';
import { prepareDataset, REPORT_HTML, REPORT_JSON, type PrepareOptions } from './prepare.js';
import { prepareReportSchema, type PrepareReport } from './prepare-report.js';
import { readPerceptualHash } from './read.js';

const SIZE = 256;
let root: string;

function options(inputDir: string, outDir: string, extra: Partial<PrepareOptions> = {}): PrepareOptions {
  return {
    inputDir,
    outDir,
    targetPx: SIZE,
    crop: 'center',
    useBuckets: false,
    isStrict: false,
    triggerWord: null,
    thresholds: DEFAULT_THRESHOLDS,
    metadataPath: null,
    captionExtension: '.txt',
    tokenizerDir: CLIP_TOKENIZER_DIR,
    jobs: 2,
    toolVersion: 'test',
    ...extra,
  };
}

/** sha256 of every file below `dir`: the originals must come out byte-identical. */
function fingerprint(dir: string): Record<string, string> {
  const result: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else result[relative(dir, path)] = createHash('sha256').update(readFileSync(path)).digest('hex');
    }
  };
  walk(dir);
  return result;
}

const scenePng = (seed: number) =>
  sharp(Buffer.from(drawScene('jiangnan', seed, SIZE).svg))
    .png()
    .toBuffer();
const GOOD =
  'three houses and a stone bridge, canal town scene, jiangnan style with white walls and black tiles, misty morning';
const LONG = `${GOOD}, ${GOOD}, ${GOOD}, and a willow tree`;

/** The messy folder: clean scenes plus one broken copy per problem, and the rule each must trigger. */
async function writeMessyDataset(dir: string): Promise<{ expected: [string, string][]; rotatedScene: Buffer }> {
  mkdirSync(join(dir, '5_jiangnan'), { recursive: true });
  const rows: [string, string | null][] = [];
  const add = async (name: string, data: Buffer | Promise<Buffer>, caption: string | null = `${GOOD} ${name}`) => {
    writeFileSync(join(dir, name), await data);
    rows.push([name, caption]);
  };
  for (let i = 0; i < 4; i++) await add(`5_jiangnan/clean_${i}.png`, scenePng(100 + i), `${GOOD}, picture ${i}`);
  await add(
    'blurry.png',
    sharp(await scenePng(200))
      .blur(4)
      .png()
      .toBuffer(),
  );
  // Sorts before its original: the sharp original must still be the one kept.
  await add(
    '0-blurred-copy.png',
    sharp(await scenePng(101))
      .blur(4)
      .png()
      .toBuffer(),
  );
  await add(
    'tiny.png',
    sharp(await scenePng(201))
      .resize(96, 96)
      .png()
      .toBuffer(),
  );
  await add(
    'copy.jpg',
    sharp(await scenePng(100))
      .resize(252, 252)
      .jpeg({ quality: 70 })
      .toBuffer(),
  );
  const truncated = await scenePng(202);
  await add('truncated.png', truncated.subarray(0, Math.floor(truncated.length * 0.6)));
  await add(
    'dark.png',
    sharp(await scenePng(203))
      .linear(0.25, 0)
      .png()
      .toBuffer(),
  );
  await add(
    'bright.png',
    sharp(await scenePng(204))
      .linear(1.6, 110)
      .png()
      .toBuffer(),
  );
  // Stored turned a quarter anticlockwise, 256 wide × 320 tall, with EXIF orientation 6 ("turn clockwise to show").
  const rotatedScene = await scenePng(205);
  const wide = await sharp(rotatedScene).extend({ left: 32, right: 32, background: '#ffffff' }).png().toBuffer();
  await add('rotated.jpg', sharp(wide).rotate(-90).withMetadata({ orientation: 6 }).jpeg({ quality: 95 }).toBuffer());
  await add(
    'panorama.png',
    sharp(await scenePng(206))
      .resize(3 * SIZE, SIZE, { fit: 'fill' })
      .png()
      .toBuffer(),
  );
  await add('vague.png', scenePng(207), 'a beautiful canal town with a nice view, jiangnan style, amazing light');
  await add('chinese.png', scenePng(208), 'jiangnan 江南水乡，白墙黑瓦，小桥流水');
  await add('short.png', scenePng(209), 'jiangnan village');
  await add('long.png', scenePng(210), LONG);
  await add(
    'no-trigger.png',
    scenePng(211),
    'two houses and a boat, canal town scene, white walls and black tiles, rainy afternoon',
  );
  for (const n of [0, 1, 2])
    await add(`same_${n}.png`, scenePng(212 + n), 'three houses, canal town scene, jiangnan style, rainy afternoon');
  await add('uncaptioned.png', scenePng(215), null);
  const csv = [
    'file_name,caption',
    ...rows.filter(([, c]) => c !== null).map(([n, c]) => `${n},"${c}"`),
    'gone.png,"a picture that is not there"',
  ];
  writeFileSync(join(dir, 'metadata.csv'), `${csv.join('\n')}\n`);
  return {
    rotatedScene,
    expected: [
      ['blurry.png', 'sharpness'],
      ['0-blurred-copy.png', 'sharpness'],
      ['0-blurred-copy.png', 'near-duplicate'],
      ['tiny.png', 'resolution'],
      ['copy.jpg', 'near-duplicate'],
      ['truncated.png', 'unreadable'],
      ['dark.png', 'exposure'],
      ['bright.png', 'exposure'],
      ['panorama.png', 'aspect-ratio'],
      ['vague.png', 'vague-words'],
      ['chinese.png', 'caption-language'],
      ['short.png', 'caption-structure'],
      ['long.png', 'token-length'],
      ['no-trigger.png', 'trigger-word'],
      ['same_1.png', 'duplicate-caption'],
      ['same_2.png', 'duplicate-caption'],
      ['uncaptioned.png', 'missing-caption'],
      ['gone.png', 'caption-without-image'],
    ],
  };
}

describe('prepare on the clean sample scenes', () => {
  it('flags nothing, keeps every picture and copies every caption', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'prepare-clean-')), 'data');
    await writeSampleDataset({
      dir,
      styles: ['jiangnan', 'lingnan', 'northern_snow', 'desert_town', 'neon_night', 'generic'],
      count: 4,
      seed: 3,
      sizePx: SIZE,
    });
    const { report } = await prepareDataset(options(dir, `${dir}-prepared`));
    expect(report.findings).toEqual([]);
    expect(report.summary).toMatchObject({ images: 24, kept: 24, excluded: 0, warnings: 0 });
    const source = parseMetadataCsv(readFileSync(join(dir, 'metadata.csv'), 'utf8'));
    const copied = parseMetadataCsv(readFileSync(join(`${dir}-prepared`, 'metadata.csv'), 'utf8'));
    expect(copied.map((r) => [r.fileName, r.caption]).sort()).toEqual(
      source.map((r) => [r.fileName, r.caption]).sort(),
    );
  });
});

describe('prepare on a messy folder', () => {
  let input: string;
  let out: string;
  let report: PrepareReport;
  let before: Record<string, string>;
  let rotatedScene: Buffer;
  let expected: [string, string][];

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'prepare-messy-'));
    input = join(root, 'photos');
    out = join(root, 'prepared');
    ({ expected, rotatedScene } = await writeMessyDataset(input));
    before = fingerprint(input);
    ({ report } = await prepareDataset(options(input, out, { triggerWord: 'jiangnan' })));
  });

  it('names each problem with its rule, and nothing else', () => {
    const found = report.findings.map((f) => [f.image, f.rule]);
    expect(found.sort()).toEqual([...expected].sort());
    const byImage = new Map(report.findings.map((f) => [f.image, f]));
    expect(byImage.get('copy.jpg')!.message).toMatch(
      /^near-duplicate of 5_jiangnan\/clean_0\.png \(hash distance \d of 64\)$/,
    );
    expect(
      report.findings.find((f) => f.image === '0-blurred-copy.png' && f.rule === 'near-duplicate')!.message,
    ).toMatch(/^near-duplicate of 5_jiangnan\/clean_1\.png /);
    expect(byImage.get('truncated.png')!.message).toMatch(/^cannot be read as an image \(/);
    expect(byImage.get('dark.png')!.message).toMatch(/^under-exposed/);
    expect(byImage.get('bright.png')!.message).toMatch(/^over-exposed/);
    expect(byImage.get('tiny.png')!.message).toBe('96×96 px needs 2.67× upscaling to 256 px (limit 1.5×)');
    expect(byImage.get('long.png')!.message).toMatch(/^\d+ CLIP tokens: the text encoder reads 75, so `.*` is cut$/);
    expect(byImage.get('chinese.png')!.message).toContain('Han characters');
  });

  it('excludes the exclude-level pictures and keeps the warned ones', () => {
    const excluded = report.images
      .filter((i) => i.status === 'excluded')
      .map((i) => i.image)
      .sort();
    expect(excluded).toEqual([
      '0-blurred-copy.png',
      'blurry.png',
      'bright.png',
      'copy.jpg',
      'dark.png',
      'tiny.png',
      'truncated.png',
    ]);
    expect(report.summary.kept).toBe(report.summary.images - 7);
    const files = Object.keys(fingerprint(out)).sort();
    expect(files).toEqual(
      [...report.images.filter((i) => i.output).map((i) => i.output!), 'metadata.csv', REPORT_HTML, REPORT_JSON].sort(),
    );
    expect(files).toContain('5_jiangnan/clean_0.png');
  });

  it('writes every kept picture at the training size, upright', async () => {
    for (const image of report.images.filter((i) => i.output)) {
      const meta = await sharp(join(out, image.output!)).metadata();
      expect([meta.width, meta.height, meta.orientation ?? 1], image.image).toEqual([SIZE, SIZE, 1]);
    }
    const rotated = report.images.find((i) => i.image === 'rotated.jpg')!;
    expect([rotated.width_px, rotated.height_px, rotated.exif_orientation]).toEqual([320, 256, 6]);
    expect(report.summary.rotated_upright).toBe(1);
    // The centre crop of the upright picture is the scene that was drawn; read sideways it would not be.
    const prepared = await readPerceptualHash(join(out, 'rotated.jpg'));
    expect(hashDistance(prepared, await readPerceptualHash(await tempFile(rotatedScene)))).toBeLessThanOrEqual(4);
    const sideways = await sharp(rotatedScene).rotate(-90).greyscale().resize(32, 32, { fit: 'fill' }).raw().toBuffer();
    expect(hashDistance(prepared, perceptualHash(sideways))).toBeGreaterThan(12);
  });

  it('copies the captions of kept pictures into metadata.csv under their new paths', () => {
    const rows = parseMetadataCsv(readFileSync(join(out, 'metadata.csv'), 'utf8'));
    const kept = report.images.filter((i) => i.output && i.caption !== null);
    expect(rows.map((r) => [r.fileName, r.caption])).toEqual(kept.map((i) => [i.output, i.caption]));
    expect(rows.some((r) => r.fileName === 'blurry.png')).toBe(false);
  });

  it('leaves the originals byte-identical', () => {
    expect(fingerprint(input)).toEqual(before);
  });

  it('writes a JSON report of the stable schema and a self-contained HTML page', () => {
    const onDisk = JSON.parse(readFileSync(join(out, REPORT_JSON), 'utf8')) as unknown;
    expect(prepareReportSchema.parse(onDisk)).toEqual(report);
    // Renaming or removing any of these is a schema change: bump PREPARE_REPORT_VERSION.
    expect(Object.keys(report)).toEqual([
      'schema_version',
      'tool_version',
      'status',
      'input_dir',
      'output_dir',
      'captions_from',
      'options',
      'summary',
      'buckets',
      'images',
      'findings',
    ]);
    expect(Object.keys(report.images[0]!)).toEqual([
      'image',
      'status',
      'output',
      'width_px',
      'height_px',
      'exif_orientation',
      'caption',
      'stats',
      'hash',
      'size',
    ]);
    expect(Object.keys(report.findings[0]!)).toEqual(['image', 'rule', 'severity', 'message', 'hint']);
    const html = readFileSync(join(out, REPORT_HTML), 'utf8');
    const thumbnails = html.match(/<img src="data:image\/jpeg;base64,/g) ?? [];
    // every flagged picture that decodes has an inline thumbnail; the truncated one and the missing file do not
    expect(thumbnails).toHaveLength(new Set(report.findings.map((f) => f.image)).size - 2);
    expect(html).toContain('blurry.png');
    expect(html).not.toMatch(/src="(?!data:)/);
  });

  it('with --strict fails, writes only the report, and keeps the originals', async () => {
    const strictOut = join(root, 'strict');
    const { report: strict } = await prepareDataset(options(input, strictOut, { isStrict: true }));
    expect(strict.status).toBe('failed');
    expect(readdirSync(strictOut).sort()).toEqual([REPORT_HTML, REPORT_JSON]);
    expect(strict.images.every((i) => i.output === null)).toBe(true);
    expect(fingerprint(input)).toEqual(before);
  });

  it('groups pictures into aspect-ratio buckets with --buckets, inside the repeat folder', async () => {
    const bucketOut = join(root, 'bucketed');
    const { report: bucketed } = await prepareDataset(options(input, bucketOut, { useBuckets: true }));
    const panorama = bucketed.images.find((i) => i.image === 'panorama.png')!;
    expect(panorama.output).toBe('320x192/panorama.png');
    expect(await sharp(join(bucketOut, panorama.output!)).metadata()).toMatchObject({ width: 320, height: 192 });
    expect(bucketed.images.find((i) => i.image === '5_jiangnan/clean_0.png')!.output).toBe(
      '5_jiangnan/256x256/clean_0.png',
    );
    expect(bucketed.buckets).toEqual(expect.arrayContaining([{ width_px: 320, height_px: 192, images: 1 }]));
  });

  it('refuses to write into the input folder or over a folder it did not write', async () => {
    await expect(prepareDataset(options(input, join(input, 'prepared')))).rejects.toThrow(
      'the prepared copy must go outside the input folder',
    );
    const foreign = join(root, 'foreign');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'keep-me.txt'), 'mine');
    await expect(prepareDataset(options(input, foreign))).rejects.toThrow('holds files `prepare` did not write');
    expect(readFileSync(join(foreign, 'keep-me.txt'), 'utf8')).toBe('mine');
  });
});

async function tempFile(data: Buffer): Promise<string> {
  const path = join(root, `t-${createHash('sha1').update(data).digest('hex').slice(0, 8)}.png`);
  writeFileSync(path, data);
  return path;
}

describe('prepare --crop', () => {
  it('attention keeps the salient part of a wide picture where center cuts it off', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'prepare-crop-')), 'wide');
    mkdirSync(dir);
    // A grey strip with a red lantern-like block near its right end.
    const block = await sharp({ create: { width: 120, height: 160, channels: 3, background: '#d02020' } })
      .png()
      .toBuffer();
    await sharp({ create: { width: 600, height: 256, channels: 3, background: '#808080' } })
      .composite([{ input: block, left: 460, top: 48 }])
      .png()
      .toFile(join(dir, 'strip.png'));
    const redness = async (path: string) => {
      const { channels } = await sharp(path).stats();
      return channels[0]!.mean - channels[1]!.mean;
    };
    await prepareDataset(options(dir, `${dir}-center`, { crop: 'center' }));
    await prepareDataset(options(dir, `${dir}-attention`, { crop: 'attention' }));
    expect(await redness(join(`${dir}-center`, 'strip.png'))).toBeLessThan(5);
    expect(await redness(join(`${dir}-attention`, 'strip.png'))).toBeGreaterThan(40);
  });
});
