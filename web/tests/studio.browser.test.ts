// The studio web app end to end: the real server (startServer on port 0, a temp workspace) and the built app in a real
// chromium. Upload a dataset → a flagged picture in the check → a caption edit re-linted → train on the demo model from
// the form → loss chart and samples live → keep a checkpoint → a strength grid → download the LoRA. Each page is
// screenshotted in both languages into test-artifacts/screenshots/.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strToU8, zipSync } from 'fflate';
import sharp from 'sharp';
import type { Browser, Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drawScene } from '../../src/demo/index.js';
import { type RunningServer, startServer } from '../../src/server/index.js';
import { ENGINE_TEST_ENV } from '../../src/testing/demo-workspace.js';
import { CHROMIUM, hasChromium, openBrowserPage, REPO, SCREENSHOTS, screenshotBothLanguages } from './browser-page.js';

const DEMO_MODEL = join(REPO, 'models', 'demo-sd1.safetensors');
/** Training, sampling and rendering on the demo model, on a busy 2-core machine: minutes, not seconds. */
const LONG_MS = 420_000;
const DATASET = '江南_demo';

if (!hasChromium) console.warn(`studio browser test skipped: no chromium at ${CHROMIUM} (apt-get install chromium)`);

let workspace: string;
let server: RunningServer;
let baseUrl: string;
let browser: Browser;
let page: Page;
/** The API paths the server publishes: a part of the flow whose routes have not landed yet is skipped, said so. */
let routes: Set<string>;
const flow: { jobId?: string; loraPath?: string } = {};

describe.skipIf(!hasChromium)('studio web app in chromium', () => {
  beforeAll(async () => {
    // The app under test is the one `npm run build` makes, built now so the test never runs a stale one.
    await build({ configFile: join(REPO, 'web', 'vite.config.ts'), logLevel: 'warn' });
    workspace = mkdtempSync(join(tmpdir(), 'lora-studio-web-'));
    mkdirSync(join(workspace, 'models'));
    copyFileSync(DEMO_MODEL, join(workspace, 'models', 'demo-sd1.safetensors'));
    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      workspace,
      log: () => {},
      env: ENGINE_TEST_ENV,
    });
    baseUrl = server.url.replace(/\/$/, '');
    const doc = (await (await fetch(`${baseUrl}/api/openapi.json`)).json()) as { paths: Record<string, unknown> };
    routes = new Set(Object.keys(doc.paths));
    ({ browser, page } = await openBrowserPage());
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (workspace) rmSync(workspace, { recursive: true, force: true });
  });

  function needs(...paths: string[]): boolean {
    const missing = paths.filter((path) => !routes.has(path));
    if (missing.length > 0)
      console.warn(`studio browser test: step skipped, routes not landed yet: ${missing.join(', ')}`);
    return missing.length === 0;
  }

  it('serves the app, picks English from the browser, switches to Chinese and remembers it', async () => {
    await page.goto(`${baseUrl}/`);
    await page.waitForURL(`${baseUrl}/datasets`);
    await expect.poll(() => page.getByRole('navigation').textContent()).toContain('Datasets');
    await page.getByTestId('language').selectOption('zh-CN');
    await expect.poll(() => page.getByRole('navigation').textContent()).toContain('数据集');
    await page.reload();
    await expect.poll(() => page.getByRole('navigation').textContent()).toContain('数据集');
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('zh-CN');
    await page.getByTestId('language').selectOption('en');
    await expect.poll(() => page.getByRole('navigation').textContent()).toContain('New training');
    // A bookmark of a client-side page loads the app too.
    await page.goto(`${baseUrl}/jobs`);
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Jobs');
  });

  it('creates a dataset by uploading a folder and shows a flagged picture in the check', async (context) => {
    if (!needs('/api/datasets', '/api/datasets/{name}/upload', '/api/datasets/{name}/report')) return context.skip();
    const folder = join(workspace, '..', `${DATASET}-upload-${Date.now()}`);
    mkdirSync(folder);
    for (let i = 0; i < 4; i++) {
      const scene = drawScene('jiangnan', 11 + i, 64);
      writeFileSync(join(folder, `scene-${i}.png`), await sharp(Buffer.from(scene.svg)).png().toBuffer());
      writeFileSync(join(folder, `scene-${i}.txt`), scene.caption);
    }
    // A picture the check must flag: tiny and all black.
    const black = { width: 32, height: 32, channels: 3 as const, background: '#000' };
    writeFileSync(join(folder, 'dark.png'), await sharp({ create: black }).png().toBuffer());
    writeFileSync(join(folder, 'notes.rtf'), 'not a picture');

    await page.goto(`${baseUrl}/datasets`);
    await page.getByLabel('Name', { exact: true }).fill(DATASET);
    await page.getByTestId('upload-folder').setInputFiles(folder);
    await page.waitForURL(`${baseUrl}/datasets/${encodeURIComponent(DATASET)}`);
    await expect.poll(() => page.locator('.picture').count()).toBe(5);
    await screenshotBothLanguages(page, 'dataset-uploaded');
    rmSync(folder, { recursive: true, force: true });

    await page.getByRole('button', { name: 'Check pictures' }).click();
    await page.getByTestId('report-summary').waitFor({ timeout: LONG_MS });
    const flagged = page.locator('.picture[data-file="dark.png"] [data-verdict]');
    expect(['warning', 'excluded']).toContain(await flagged.getAttribute('data-verdict'));
    expect(await page.locator('.picture[data-file="dark.png"] .reasons li').count()).toBeGreaterThan(0);
    await screenshotBothLanguages(page, 'dataset-report');
  });

  it('sets the trigger word, replaces a word in every caption, and auto-labels the uncaptioned picture', async (context) => {
    if (!needs('/api/datasets/{name}/settings', '/api/datasets/{name}/replace')) return context.skip();
    await page.getByLabel('Trigger word').fill('jnstyle');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.locator('form:has(#trigger-word)').getByText('Saved').waitFor();

    await page.getByLabel('Find', { exact: true }).fill('canal town');
    await page.getByLabel('Replace with').fill('water town');
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.getByText(/\d+ caption\(s\) would change/).waitFor();
    await page.getByRole('button', { name: 'Replace all' }).click();
    await page.getByText(/\d+ caption\(s\) changed/).waitFor();
    const scene1 = page.locator('.picture[data-file="scene-1.png"] textarea');
    await expect.poll(() => scene1.inputValue()).toContain('water town');
    expect(readFileSync(join(workspace, 'datasets', DATASET, 'scene-1.txt'), 'utf8')).toContain('water town');

    await page.getByRole('button', { name: 'Auto-label' }).click();
    const dark = page.locator('.picture[data-file="dark.png"] textarea');
    await expect.poll(() => dark.inputValue(), { timeout: LONG_MS }).not.toBe('');
    expect(existsSync(join(workspace, 'datasets', DATASET, 'dark.txt'))).toBe(true);
  });

  it('re-lints a caption as it is typed and saves it', async (context) => {
    if (!needs('/api/datasets/{name}/lint', '/api/datasets/{name}/captions')) return context.skip();
    // dark.png came without a caption (training would refuse it); auto-label drafted one, which we rewrite here.
    const card = page.locator('.picture[data-file="dark.png"]');
    const lint = card.getByTestId('lint');
    await expect.poll(() => lint.textContent()).toMatch(/\d+ \/ \d+ tokens/);
    await card.locator('textarea').fill('beautiful, amazing, masterpiece');
    await expect.poll(() => card.locator('[data-rule="vague-words"]').count()).toBeGreaterThan(0);
    await card
      .locator('textarea')
      .fill('a dark night over a canal town, jiangnan style with white walls and black tiles');
    await expect.poll(() => card.locator('[data-rule="vague-words"]').count()).toBe(0);
    await card.getByRole('button', { name: 'Save caption' }).click();
    await card.getByText('Saved').waitFor();
    const saved = readFileSync(join(workspace, 'datasets', DATASET, 'dark.txt'), 'utf8');
    expect(saved).toBe('a dark night over a canal town, jiangnan style with white walls and black tiles');
  });

  it('starts a training on the demo model from the form and shows loss and samples live', async (context) => {
    if (!needs('/api/config/schema', '/api/config/preflight', '/api/datasets/{name}')) return context.skip();
    await page.goto(`${baseUrl}/datasets/${encodeURIComponent(DATASET)}`);
    await page.getByRole('button', { name: 'Train on this dataset' }).click();
    await page.waitForURL(/\/train\/new\?dataset=/);
    await page.locator('#field-base_model').waitFor();
    await screenshotBothLanguages(page, 'new-training');
    const set = async (key: string, value: string) => {
      const input = page.locator(`#field-${key}`);
      await input.fill(value);
      await input.press('Tab');
    };
    // The LoRA shape group starts closed: its defaults suit most runs.
    await page.locator('details[data-group="lora"] > summary').click();
    await set('base_model', 'models/demo-sd1.safetensors');
    await set('output_name', 'webtest');
    await set('resolution', '64');
    await set('lora_rank', '4');
    await set('batch_size', '2');
    await set('max_train_steps', '4');
    await set('save_steps', '2');
    await set('sample_every_n_steps', '2');
    await set('sample_inference_steps', '2');
    await set('sample_prompts', 'a jiangnan water town\na bridge at dusk');
    await set('seed', '1');
    expect(await page.locator('#field-output_dir').inputValue()).toBe('output/webtest');
    if (routes.has('/api/config/yaml') && routes.has('/api/config/parse')) {
      // Export, change a field, import the export back: the form shows the exported value again.
      const [exported] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('button', { name: 'Export YAML' }).click(),
      ]);
      const yamlPath = join(workspace, 'exported.yaml');
      await exported.saveAs(yamlPath);
      expect(readFileSync(yamlPath, 'utf8')).toMatch(/max_train_steps: 4/);
      await set('max_train_steps', '9');
      await page.getByTestId('import-yaml').setInputFiles(yamlPath);
      await expect.poll(() => page.locator('#field-max_train_steps').inputValue()).toBe('4');
    }
    await page.getByRole('button', { name: 'Check settings' }).click();
    // Polling the whole text, so a failure shows the blocking problems the page listed.
    await expect
      .poll(() => page.getByTestId('preflight').textContent(), { timeout: LONG_MS })
      .toContain('Ready to start.');
    await page.getByRole('button', { name: 'Start training' }).click();
    await page.waitForURL(/\/jobs\/[^/]+$/, { timeout: LONG_MS });
    flow.jobId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);

    const chart = page.getByTestId('loss-chart');
    await expect.poll(() => chart.getAttribute('data-points'), { timeout: LONG_MS }).not.toBe('0');
    if (routes.has('/api/jobs/{id}/stream')) {
      await page.getByTestId('samples').locator('img').first().waitFor({ timeout: LONG_MS });
    }
    await page.locator('[data-outcome="done"]').waitFor({ timeout: LONG_MS });
    expect(await page.locator('[data-outcome="failed"]').count()).toBe(0);
    expect(Number(await chart.getAttribute('data-points'))).toBeGreaterThan(0);
    if (routes.has('/api/jobs/{id}/stream')) {
      // Two prompts sampled at steps 2 and 4.
      expect(await page.getByTestId('samples').locator('img').count()).toBeGreaterThanOrEqual(2);
    }
    await screenshotBothLanguages(page, 'training');
    await page.getByText('Full log').click();
    await expect.poll(() => page.getByTestId('job-log').textContent()).not.toBe('');
  });

  it('keeps a checkpoint of a saved step', async (context) => {
    if (!flow.jobId || !needs('/api/jobs/{id}/stream', '/api/jobs/{id}/keep')) return context.skip();
    const step = page.locator('.checkpoints li[data-step="2"]');
    await step.getByRole('button', { name: 'Keep this checkpoint' }).click();
    await step.getByRole('status').waitFor();
    const kept = (await step.getByRole('status').textContent())!.replace(/^Kept as /, '').trim();
    expect(kept).toMatch(/webtest-step2\.safetensors$/);
    expect(existsSync(join(workspace, kept))).toBe(true);
  });

  it('shows a failed training as a sentence with what to do, never as done', async (context) => {
    if (!needs('/api/jobs/{id}/stream')) return context.skip();
    const folder = join(workspace, 'datasets', 'uncaptioned');
    mkdirSync(folder, { recursive: true });
    writeFileSync(
      join(folder, 'a.png'),
      await sharp(Buffer.from(drawScene('jiangnan', 5, 64).svg))
        .png()
        .toBuffer(),
    );
    const response = await fetch(`${baseUrl}/api/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        kind: 'train',
        config: { train_data_dir: 'datasets/uncaptioned', base_model: 'models/demo-sd1.safetensors', resolution: 64 },
      }),
    });
    expect(response.status).toBe(201);
    const { id } = (await response.json()) as { id: string };
    await page.goto(`${baseUrl}/jobs/${id}`);
    await page.locator('[data-outcome="failed"]').waitFor({ timeout: LONG_MS });
    expect(await page.locator('[data-outcome="done"]').count()).toBe(0);
    const error = page.locator('[data-outcome="failed"] .error-box');
    expect(await error.getAttribute('data-code')).toBe('image_without_caption');
    expect(await error.textContent()).toContain('What to do');
    await page.getByTestId('language').selectOption('zh-CN');
    await expect.poll(() => error.textContent()).toContain('有图片没有标注');
    await page.screenshot({ path: join(SCREENSHOTS, 'training-failed.zh-CN.png'), fullPage: true });
    await page.getByTestId('language').selectOption('en');
    await page.screenshot({ path: join(SCREENSHOTS, 'training-failed.en.png'), fullPage: true });
  });

  it('lists datasets and jobs', async () => {
    await page.goto(`${baseUrl}/datasets`);
    await page.getByRole('link', { name: DATASET }).waitFor();
    await screenshotBothLanguages(page, 'datasets');
    await page.goto(`${baseUrl}/jobs`);
    if (flow.jobId) await page.locator(`tr[data-job="${flow.jobId}"] [data-status="done"]`).waitFor();
    await screenshotBothLanguages(page, 'jobs');
  });

  it('logs in from the printed ?token= link, keeps the token out of the address bar, sends it; uploads a zip', async () => {
    const guarded = mkdtempSync(join(tmpdir(), 'lora-studio-web-token-'));
    const token = 'webtest-token-0123456789abcdefghijklmnopqrstuvwxyz';
    const other = await startServer({ host: '127.0.0.1', port: 0, workspace: guarded, token, log: () => {} });
    try {
      expect(other.url).toContain(`?token=${token}`);
      const origin = other.url.slice(0, other.url.indexOf('/?'));
      expect((await fetch(`${origin}/api/jobs`)).status).toBe(401);
      const tab = await page.context().newPage();
      await tab.goto(other.url);
      await tab.waitForURL(`${origin}/datasets`);
      await tab.getByRole('heading', { name: 'Datasets' }).waitFor();
      // The list loaded (no refusal shown), and a write works too: the cookie the link left carries the token.
      expect(await tab.locator('.error-box').count()).toBe(0);
      await tab.getByLabel('Name', { exact: true }).fill('guarded');
      const created = tab.waitForResponse((r) => r.url().endsWith('/api/datasets') && r.request().method() === 'POST');
      // A zip this time: sent as application/zip, unpacked by the server.
      const picture = await sharp(Buffer.from(drawScene('jiangnan', 2, 64).svg))
        .png()
        .toBuffer();
      const zip = zipSync({ 'a.png': new Uint8Array(picture), 'a.txt': strToU8('a canal town') });
      await tab.getByTestId('upload-files').setInputFiles({
        name: 'pictures.zip',
        mimeType: 'application/zip',
        buffer: Buffer.from(zip),
      });
      expect((await created).status()).toBe(201);
      await tab.waitForURL(`${origin}/datasets/guarded`);
      await expect.poll(() => tab.locator('.picture').count()).toBe(1);
      expect(await tab.locator('.picture textarea').inputValue()).toBe('a canal town');
      await tab.close();
    } finally {
      await other.close();
      rmSync(guarded, { recursive: true, force: true });
    }
  });

  it('renders a strength grid of the LoRA and downloads it', async (context) => {
    if (!flow.jobId || !needs('/api/loras', '/api/loras/download')) return context.skip();
    await page.goto(`${baseUrl}/loras`);
    const row = page.locator('tr[data-lora$="webtest.safetensors"]');
    await row.waitFor();
    flow.loraPath = (await row.getAttribute('data-lora'))!;
    await screenshotBothLanguages(page, 'loras');

    await row.getByRole('button', { name: 'Inspect' }).click();
    const report = page.getByTestId('inspect');
    await report.waitFor();
    expect(await report.locator('dt').count()).toBeGreaterThan(0);

    await row.getByRole('button', { name: 'Strength grid' }).click();
    const grid = page.getByTestId('strength-grid');
    await grid.getByLabel('Prompts (one per line)').fill('a jiangnan water town');
    await grid.getByLabel('Strengths').fill('0, 0.5, 1');
    await grid.getByLabel('Sampling steps').fill('2');
    await grid.getByLabel('Size (px)').fill('64');
    await grid.getByRole('button', { name: 'Render' }).click();
    await grid.locator('.job-result[data-status="done"]').waitFor({ timeout: LONG_MS });
    expect(await grid.locator('.job-result[data-status="failed"]').count()).toBe(0);
    await expect.poll(() => grid.locator('.job-result img').count()).toBeGreaterThanOrEqual(3);
    await screenshotBothLanguages(page, 'strength-grid');

    await row.getByRole('button', { name: 'Merge into a base model' }).click();
    const merge = page.locator('[data-panel="merge"]');
    await merge.getByLabel('Base model').fill('models/demo-sd1.safetensors');
    await merge.getByLabel('Save as').fill('models/merged-webtest.safetensors');
    await merge.getByRole('button', { name: 'Merge', exact: true }).click();
    await merge.locator('.job-result[data-status="done"]').waitFor({ timeout: LONG_MS });
    expect(existsSync(join(workspace, 'models', 'merged-webtest.safetensors'))).toBe(true);

    // Side by side: the final LoRA and the kept step-2 one, the same prompt and seed.
    await row.getByRole('checkbox').check();
    await page.locator('tr[data-lora$="webtest-step2.safetensors"]').getByRole('checkbox').check();
    const compare = page.getByTestId('compare');
    await compare.getByLabel('Prompt').fill('a jiangnan water town');
    await compare.getByLabel('Sampling steps').fill('2');
    await compare.getByLabel('Size (px)').fill('64');
    await compare.getByRole('button', { name: 'Render' }).click();
    const ended = compare.locator('.job-result[data-status="done"], .job-result[data-status="failed"], .error-box');
    await expect.poll(() => ended.count(), { timeout: LONG_MS }).toBe(2);
    expect(await compare.locator('.error-box').allTextContents()).toEqual([]);
    expect(await compare.locator('.job-result img').count()).toBeGreaterThanOrEqual(2);
    await screenshotBothLanguages(page, 'compare');

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      row.locator('a[data-format="kohya"]').click(),
    ]);
    const saved = join(workspace, 'downloaded.safetensors');
    await download.saveAs(saved);
    const bytes = readFileSync(saved);
    // A safetensors file: an 8-byte little-endian header length, then a JSON header.
    const headerLength = Number(bytes.readBigUInt64LE(0));
    expect(headerLength).toBeGreaterThan(0);
    expect(bytes.subarray(8, 9).toString()).toBe('{');
    expect(download.suggestedFilename()).toMatch(/\.safetensors$/);
  });
});
