import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { parseMetadataCsv } from '../dataset/index.js';
import { PACKAGE_ROOT } from '../engine/paths.js';
import { autoLabel } from './auto-label.js';
import { colourName, folderWords, ruleCaption } from './rule-caption.js';

async function image(path: string, width: number, height: number, rgb: [number, number, number]) {
  await sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } })
    .png()
    .toFile(path);
}

describe('ruleCaption', () => {
  it('describes shape, light and colour after the trigger word and folder words', () => {
    expect(
      ruleCaption(
        { folder: '10_jiangnan_village', width: 96, height: 64, meanRgb: [240, 240, 235] },
        { triggerWord: 'jn_style' },
      ),
    ).toBe('jn_style, jiangnan village, landscape picture, bright, white tones');
    expect(colourName([30, 60, 210])).toBe('blue');
    expect(folderWords('___')).toBeUndefined();
  });
});

describe('autoLabel', () => {
  it('writes rows for new images and keeps captions a person wrote', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'label-'));
    await image(join(dir, 'a.png'), 64, 64, [200, 30, 30]);
    await image(join(dir, 'b.png'), 48, 96, [20, 20, 20]);
    const csv = join(dir, 'metadata.csv');
    writeFileSync(csv, 'file_name,caption\na.png,"my own caption, with a comma"\n');
    const result = await autoLabel({
      inputDir: dir,
      outputCsv: csv,
      shouldOverwrite: false,
      isDryRun: false,
      triggerWord: 'tw',
    });
    expect(result).toMatchObject({ written: 1, kept: 1 });
    expect(parseMetadataCsv(readFileSync(csv, 'utf8'))).toEqual([
      { fileName: 'a.png', caption: 'my own caption, with a comma', line: 2 },
      {
        fileName: 'b.png',
        caption: `tw, ${folderWords(dir.split('/').pop()!)}, portrait picture, dark, black tones`,
        line: 3,
      },
    ]);
    const overwritten = await autoLabel({ inputDir: dir, outputCsv: csv, shouldOverwrite: true, isDryRun: true });
    expect(overwritten.rows[0]?.caption).toMatch(/, square picture, dark, red tones$/);
    expect(readFileSync(csv, 'utf8')).toContain('my own caption');
  });

  it('sends only uncaptioned images to a model captioner and wraps its drafts in the caption style', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'label-model-'));
    for (const name of ['a.png', 'b.png', 'c.png']) await image(join(dir, name), 16, 16, [90, 90, 90]);
    const csv = join(dir, 'metadata.csv');
    writeFileSync(csv, 'file_name,caption\nb.png,a person wrote this\n');
    const seen: string[] = [];
    const captioner = async (images: readonly { relPath: string }[]) =>
      images.map((i) => {
        seen.push(i.relPath);
        return i.relPath === 'c.png' ? ' ' : `drafted ${i.relPath}`;
      });
    const result = await autoLabel({
      inputDir: dir,
      outputCsv: csv,
      shouldOverwrite: false,
      isDryRun: false,
      triggerWord: 'tw',
      suffix: 'end',
      captioner,
    });
    expect(seen).toEqual(['a.png', 'c.png']);
    expect(result.emptyDrafts).toEqual(['c.png']);
    expect(readFileSync(csv, 'utf8')).toBe(
      'file_name,caption\na.png,"tw, drafted a.png, end"\nb.png,a person wrote this\nc.png,"tw, end"\n',
    );
  });

  it('moves captions of images that are gone into metadata.orphaned.csv instead of dropping them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'label-orphans-'));
    await image(join(dir, 'kept.png'), 16, 16, [90, 90, 90]);
    const csv = join(dir, 'metadata.csv');
    writeFileSync(csv, 'file_name,caption\nkept.png,still here\nmoved.png,"a caption someone wrote, by hand"\n');
    const dry = await autoLabel({ inputDir: dir, outputCsv: csv, shouldOverwrite: false, isDryRun: true });
    expect(dry.orphaned).toEqual(['moved.png']);
    expect(existsSync(join(dir, 'metadata.orphaned.csv'))).toBe(false);
    const result = await autoLabel({ inputDir: dir, outputCsv: csv, shouldOverwrite: false, isDryRun: false });
    expect(result).toMatchObject({ orphaned: ['moved.png'], orphanedCsv: join(dir, 'metadata.orphaned.csv') });
    expect(readFileSync(csv, 'utf8')).toBe('file_name,caption\nkept.png,still here\n');
    expect(readFileSync(join(dir, 'metadata.orphaned.csv'), 'utf8')).toBe(
      'file_name,caption\nmoved.png,"a caption someone wrote, by hand"\n',
    );
  });

  it('follows the article: python tools/auto_label.py, then python train.py reads the captions', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'article-'));
    mkdirSync(join(dir, 'data'));
    await image(join(dir, 'data', 'a.png'), 64, 64, [90, 160, 90]);
    const labelled = spawnSync(
      'python3',
      [join(PACKAGE_ROOT, 'tools', 'auto_label.py'), '--input', 'data', '--output', 'data/metadata.csv'],
      { cwd: dir, encoding: 'utf8' },
    );
    expect(labelled.status, labelled.stderr).toBe(0);
    expect(readFileSync(join(dir, 'data', 'metadata.csv'), 'utf8')).toBe(
      'file_name,caption\na.png,"data, square picture, soft light, green tones"\n',
    );
    // train.py forwards to `lora-scripts train`: a config error proves the forward ran our CLI.
    const trained = spawnSync('python3', [join(PACKAGE_ROOT, 'train.py'), '--config', 'missing.yaml'], {
      cwd: dir,
      encoding: 'utf8',
    });
    expect(trained.status).toBe(1);
    expect(trained.stderr.split('\n')[0]).toBe('error: missing.yaml: config file not found');
    expect(existsSync(join(dir, 'output'))).toBe(false);
  });
});
