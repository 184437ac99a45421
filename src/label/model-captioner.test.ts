// `auto-label --model` end to end through the CLI: tiny random-weight BLIP, Florence-2 and WD14 models built here,
// loaded by the engine's real code path, merged into metadata.csv without touching captions a person wrote.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseMetadataCsv } from '../dataset/index.js';
import { engineVenvDir, PACKAGE_ROOT, venvPython } from '../engine/paths.js';

const BIN = join(PACKAGE_ROOT, 'bin', 'lora-scripts.mjs');
// engine/tests/tiny_captioners.py WORDS and WD14_TAGS: what the tiny models can say.
const WORDS = new Set(
  'stone bridge canal river house tree sky boat water roof garden willow lantern street snow'.split(' '),
);
const TAGS = 'outdoors, hu tao (genshin impact), stone bridge, ^_^';
const HUMAN = 'my own words, a person wrote them';

let root: string;
let data: string;
let models: string;

function cli(args: string[]) {
  const result = spawnSync('node', [BIN, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, CI: '1' } });
  return {
    code: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    errorLines: result.stderr.split('\n').filter((l) => l.startsWith('error:')),
  };
}

function rows(csv: string): Record<string, string> {
  return Object.fromEntries(parseMetadataCsv(readFileSync(csv, 'utf8')).map((r) => [r.fileName, r.caption]));
}

/** A fresh metadata.csv with one human caption for the first image. */
function csvWithOneHumanRow(name: string): string {
  const csv = join(root, name);
  writeFileSync(csv, `file_name,caption\njiangnan_000.png,"${HUMAN}"\n`);
  return csv;
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'auto-label-model-'));
  data = join(root, 'data');
  models = join(root, 'models');
  expect(cli(['demo-data', '--out', data, '--count', '4']).code).toBe(0);
  const python = venvPython(engineVenvDir(process.env));
  const built = spawnSync(
    python,
    [join(PACKAGE_ROOT, 'engine', 'tests', 'tiny_captioners.py'), models, 'blip', 'florence2', 'wd14'],
    { encoding: 'utf8' },
  );
  expect(built.status, built.stderr).toBe(0);
});

describe('auto-label --model', () => {
  it('tags every new image with a WD14 tagger, keeps the human row, replaces it only with --overwrite', () => {
    const csv = csvWithOneHumanRow('wd14.csv');
    const kept = cli([
      'auto-label',
      '--input',
      data,
      '--output',
      csv,
      '--model',
      join(models, 'wd14'),
      '--trigger-word',
      'jn_style',
    ]);
    expect(kept.code, kept.stderr).toBe(0);
    expect(rows(csv)).toEqual({
      'jiangnan_000.png': HUMAN,
      'jiangnan_001.png': `jn_style, ${TAGS}`,
      'jiangnan_002.png': `jn_style, ${TAGS}`,
      'jiangnan_003.png': `jn_style, ${TAGS}`,
    });
    expect(kept.stderr).toContain('[3/3] jiangnan_003.png');
    expect(kept.stderr).toContain('wrote 3 captions, kept 1 existing ones');

    const before = readFileSync(csv, 'utf8');
    const dry = cli([
      'auto-label',
      '--input',
      data,
      '--output',
      csv,
      '--model',
      join(models, 'wd14'),
      '--overwrite',
      '--dry-run',
      '--threshold',
      '0.6',
    ]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(readFileSync(csv, 'utf8')).toBe(before);
    expect(dry.stdout.split('\n')[0]).toBe('new   jiangnan_000.png: outdoors, hu tao (genshin impact), stone bridge');

    const replaced = cli([
      'auto-label',
      '--input',
      data,
      '--output',
      csv,
      '--model',
      join(models, 'wd14'),
      '--overwrite',
      '--prefix',
      'ink',
      '--suffix',
      'rain',
    ]);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(rows(csv)['jiangnan_000.png']).toBe(`ink, ${TAGS}, rain`);
  });

  it('captions with BLIP in batches: trigger word first, then words the model produced', () => {
    const csv = csvWithOneHumanRow('blip.csv');
    const result = cli([
      'auto-label',
      '--input',
      data,
      '--output',
      csv,
      '--model',
      join(models, 'blip'),
      '--trigger-word',
      'jn_style',
      '--batch-size',
      '2',
      '--max-tokens',
      '6',
    ]);
    expect(result.code, result.stderr).toBe(0);
    const captions = rows(csv);
    expect(Object.keys(captions).sort()).toEqual([
      'jiangnan_000.png',
      'jiangnan_001.png',
      'jiangnan_002.png',
      'jiangnan_003.png',
    ]);
    expect(captions['jiangnan_000.png']).toBe(HUMAN);
    for (const name of ['jiangnan_001.png', 'jiangnan_002.png', 'jiangnan_003.png']) {
      const [trigger, body = ''] = captions[name]!.split(', ');
      expect(trigger).toBe('jn_style');
      const words = body.split(' ');
      expect(words.length).toBeGreaterThan(0);
      expect(
        words.every((w) => WORDS.has(w)),
        body,
      ).toBe(true);
    }
  });

  it('captions with Florence-2 and the chosen task', () => {
    const csv = join(root, 'florence.csv');
    const result = cli([
      'auto-label',
      '--input',
      data,
      '--output',
      csv,
      '--model',
      join(models, 'florence2'),
      '--task',
      '<CAPTION>',
      '--max-tokens',
      '6',
    ]);
    expect(result.code, result.stderr).toBe(0);
    const captions = Object.values(rows(csv));
    expect(captions).toHaveLength(4);
    for (const caption of captions) expect(caption).toMatch(/^[\x20-\x7e]+$/);
  });

  it('fails with one clear line on a folder that is no captioning model, and writes nothing', () => {
    const bad = join(root, 'not-a-model');
    mkdirSync(bad);
    writeFileSync(join(bad, 'notes.txt'), 'hello');
    const csv = join(root, 'bad.csv');
    const result = cli(['auto-label', '--input', data, '--output', csv, '--model', bad]);
    expect(result.code).toBe(1);
    expect(result.errorLines).toEqual([`error: ${bad}: has no config.json and no *.onnx + selected_tags.csv`]);
    expect(result.stderr).toContain('hint: give a BLIP or Florence-2 folder');
    expect(result.stderr).not.toMatch(/Traceback/);
    expect(() => readFileSync(csv)).toThrow();

    expect(cli(['auto-label', '--input', data, '--model', './models/missing']).errorLines).toEqual([
      'error: ./models/missing: model folder not found',
    ]);
    expect(
      cli(['auto-label', '--input', data, '--model', join(models, 'florence2'), '--task', '<OD>']).errorLines,
    ).toEqual([
      'error: --task: must be one of `<CAPTION>`, `<DETAILED_CAPTION>`, `<MORE_DETAILED_CAPTION>`, got `"<OD>"`',
    ]);
  });
});
