// Issue 17's pages end to end: the real server (startServer on port 0, a temp workspace) and the built app in a real
// chromium. A style LoRA added to the library and promoted → a region mapped to it, edited, resolved for a city →
// a cover made in that style at 64 px (then read from the cache) → an experiment created, its counts imported as
// CSV, the verdict read → the style's page shows the experiment and continues the style on new pictures. Each page
// is screenshotted in both languages into test-artifacts/screenshots/.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drawScene } from '../../src/demo/index.js';
import { type RunningServer, startServer } from '../../src/server/index.js';
import { ENGINE_TEST_ENV } from '../../src/testing/demo-workspace.js';
import { CHROMIUM, hasChromium, openBrowserPage, REPO, screenshotBothLanguages } from './browser-page.js';

const DEMO_MODEL = join(REPO, 'models', 'demo-sd1.safetensors');
/** A style LoRA trained on the demo model (tests/fixtures/lora/styles/README.md). */
const STYLE_LORA = join(REPO, 'tests', 'fixtures', 'lora', 'styles', 'jiangnan_style.safetensors');
/** The render worker's start, the demo model's load and 20 steps at 64 px, on a busy 2-core machine. */
const LONG_MS = 240_000;
const STYLE = 'jiangnan_style';
const EXPERIMENT = 'jiangnan-cover';
/** The worked example of docs/ab-testing: 5 % against 6.15 % at 50,000 users per arm, a +23 % lift. */
const COUNTS_CSV = 'day,arm,users,clicks\n2026-12-01,generic,50000,2500\n2026-12-01,regional,50000,3075';

if (!hasChromium) console.warn(`issue 17 browser test skipped: no chromium at ${CHROMIUM} (apt-get install chromium)`);

let workspace: string;
let server: RunningServer;
let baseUrl: string;
let browser: Browser;
let page: Page;

describe.skipIf(!hasChromium)('style library, regions, covers and experiments in chromium', () => {
  beforeAll(async () => {
    await build({ configFile: join(REPO, 'web', 'vite.config.ts'), logLevel: 'warn' });
    workspace = mkdtempSync(join(tmpdir(), 'lora-studio-issue17-'));
    mkdirSync(join(workspace, 'models'));
    mkdirSync(join(workspace, 'loras'));
    copyFileSync(DEMO_MODEL, join(workspace, 'models', 'demo-sd1.safetensors'));
    copyFileSync(STYLE_LORA, join(workspace, 'loras', `${STYLE}.safetensors`));
    // New pictures to continue the style on.
    const rain = join(workspace, 'datasets', 'rain');
    mkdirSync(rain, { recursive: true });
    for (let i = 0; i < 2; i++) {
      const scene = drawScene('jiangnan', 21 + i, 64);
      writeFileSync(join(rain, `rain-${i}.png`), await sharp(Buffer.from(scene.svg)).png().toBuffer());
      writeFileSync(join(rain, `rain-${i}.txt`), `${scene.caption}, rain`);
    }
    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      workspace,
      log: () => {},
      env: ENGINE_TEST_ENV,
    });
    baseUrl = server.url.replace(/\/$/, '');
    const doc = (await (await fetch(`${baseUrl}/api/openapi.json`)).json()) as { paths: Record<string, unknown> };
    for (const path of ['/api/library/styles', '/api/library/regions', '/api/covers', '/api/experiments']) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
    ({ browser, page } = await openBrowserPage());
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (workspace) rmSync(workspace, { recursive: true, force: true });
  });

  it('adds a LoRA to the library as a draft and promotes it', async () => {
    await page.goto(`${baseUrl}/library`);
    await page.getByText('No styles yet').waitFor();
    const form = page.getByTestId('add-version');
    await form.getByLabel('Style name').fill(STYLE);
    await form.getByLabel('LoRA file').fill(`loras/${STYLE}.safetensors`);
    await form.getByLabel('Base model', { exact: true }).fill('models/demo-sd1.safetensors');
    await form.getByLabel('Trigger words').fill('jiangnan style，water town');
    await form.getByLabel('Recommended strength').fill('0.8');
    await form.getByLabel('Tags', { exact: true }).fill('江南, covers');
    await form.getByLabel('Notes', { exact: true }).fill('White walls, black tiles, canals.');
    await form.getByLabel('Prompt template').fill('{prompt}, canal town scene, {trigger_words}');
    await form.getByRole('button', { name: 'Add to the library' }).click();
    await page.waitForURL(`${baseUrl}/library/${STYLE}`);

    const version = page.locator('article[data-version="1"]');
    await expect.poll(() => version.getAttribute('data-status')).toBe('draft');
    expect(await page.getByTestId('promoted').textContent()).toContain('No version is promoted');
    expect(await version.locator('.facts').textContent()).toContain('jiangnan style, water town');
    await version.getByRole('button', { name: 'Promote' }).click();
    await expect.poll(() => version.getAttribute('data-status')).toBe('promoted');
    expect(await page.getByTestId('promoted').textContent()).toContain(`<lora:${STYLE}:0.8>`);
    expect(await version.getByRole('button', { name: 'Promote' }).count()).toBe(0);

    await page.goto(`${baseUrl}/library`);
    const row = page.locator(`tr[data-style="${STYLE}"]`);
    await expect.poll(() => row.textContent()).toContain('v1');
    await screenshotBothLanguages(page, 'library');
  });

  it('maps a province to the style, resolves a city through it, edits the rule to the city', async () => {
    await page.goto(`${baseUrl}/regions`);
    const form = page.getByTestId('rule-form');
    await form.getByLabel('Level', { exact: true }).selectOption('province');
    await form.getByLabel('Place', { exact: true }).fill('浙江');
    await form.getByLabel('Style', { exact: true }).selectOption(STYLE);
    await form.getByRole('button', { name: 'Save rule' }).click();
    const rule = page.locator('tr[data-level="province"][data-place="浙江"]');
    await rule.waitFor();

    // 杭州 has no rule of its own: it falls back to its province.
    const resolveForm = page.getByTestId('resolve');
    await resolveForm.getByLabel('City', { exact: true }).fill('杭州');
    await resolveForm.getByLabel('Province', { exact: true }).fill('浙江');
    await resolveForm.getByRole('button', { name: 'Resolve' }).click();
    const resolved = page.getByTestId('resolved');
    await expect.poll(() => resolved.getAttribute('data-matched')).toBe('province');
    expect(await resolved.textContent()).toContain(`${STYLE}, version 1, by the Province rule.`);

    // An edit that changes the place is a new rule; the old one goes.
    await rule.getByRole('button', { name: 'Edit' }).click();
    await form.getByLabel('Level', { exact: true }).selectOption('city');
    await form.getByLabel('Place', { exact: true }).fill('杭州');
    await form.getByRole('button', { name: 'Save rule' }).click();
    await page.locator('tr[data-level="city"][data-place="杭州"]').waitFor();
    await expect.poll(() => page.locator('tr[data-rule]').count()).toBe(1);

    await resolveForm.getByLabel('Province', { exact: true }).fill('');
    await resolveForm.getByRole('button', { name: 'Resolve' }).click();
    await expect.poll(() => resolved.getAttribute('data-matched')).toBe('city');
    await resolveForm.getByLabel('City', { exact: true }).fill('苏州');
    await resolveForm.getByRole('button', { name: 'Resolve' }).click();
    await expect.poll(() => resolved.getAttribute('data-matched')).toBe('none');
    await resolveForm.getByLabel('City', { exact: true }).fill('杭州');
    await resolveForm.getByRole('button', { name: 'Resolve' }).click();
    await expect.poll(() => resolved.getAttribute('data-matched')).toBe('city');
    await screenshotBothLanguages(page, 'regions');
  });

  it('makes a cover for the city in its style, then reads the same request from the cache', async () => {
    await page.goto(`${baseUrl}/covers`);
    const form = page.getByTestId('cover-form');
    // An unmapped city first: our sentence and what to do, in both languages.
    await form.getByLabel('Place', { exact: true }).fill('苏州');
    await form.getByLabel('Title', { exact: true }).fill('雨中江南');
    await form.getByRole('button', { name: 'Make covers' }).click();
    const error = page.locator('.error-box');
    await expect.poll(() => error.getAttribute('data-code')).toBe('place_not_mapped');
    expect(await error.textContent()).toContain('on the Regions page');
    await page.getByTestId('language').selectOption('zh-CN');
    await expect.poll(() => error.textContent()).toContain('这个地点没有对应的风格');
    await page.getByTestId('language').selectOption('en');

    await form.getByLabel('Place', { exact: true }).fill('杭州');
    await form.getByLabel('Extra prompt words').fill('three houses and a stone bridge');
    await form.getByLabel('Seed', { exact: true }).fill('11');
    await form.getByLabel('Size (width x height)').fill('64x64');
    await form.getByRole('button', { name: 'Make covers' }).click();
    const covers = page.getByTestId('covers');
    await covers.waitFor({ timeout: LONG_MS });
    expect(await page.locator('.error-box').count()).toBe(0);
    expect(await covers.getAttribute('data-cached')).toBe('false');
    expect(await covers.textContent()).toContain(STYLE);
    expect(await covers.textContent()).toContain('three houses and a stone bridge, canal town scene, jiangnan style');
    const image = covers.locator('figure[data-seed="11"] img');
    await expect.poll(() => image.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(64);
    await screenshotBothLanguages(page, 'covers');

    await form.getByRole('button', { name: 'Make covers' }).click();
    await expect.poll(() => page.getByTestId('covers').getAttribute('data-cached')).toBe('true');
    expect(await page.getByTestId('cached').textContent()).toContain('Yes');
  });

  it('creates an experiment with a regional arm, imports daily counts and reads the verdict', async () => {
    await page.goto(`${baseUrl}/experiments`);
    // The planner first: the users each arm needs for +23 % on a 5 % CTR.
    await page.getByTestId('planner').getByRole('button', { name: 'Plan', exact: true }).click();
    await expect.poll(() => page.getByTestId('plan').textContent()).toMatch(/^\d+ users in the control/);
    const form = page.getByTestId('new-experiment');
    await form.getByLabel('Id', { exact: true }).fill(EXPERIMENT);
    await form.getByLabel('Name', { exact: true }).fill('江南 covers');
    await form.locator('#arm-1-style').selectOption(STYLE);
    await form.getByLabel('Control CTR now (%)').fill('5');
    await form.getByLabel('Smallest lift worth finding (%)').fill('23');
    await form.getByRole('button', { name: 'Create experiment' }).click();
    await page.waitForURL(`${baseUrl}/experiments/${EXPERIMENT}`);
    const verdict = page.locator('[data-scope="overall"] [data-testid="verdict"]');
    await expect.poll(() => verdict.getAttribute('data-decision')).toBe('keep_running');

    const importForm = page.getByTestId('import-counts');
    await importForm.getByLabel('CSV', { exact: true }).fill('day,arm,users\n2026-12-01,generic,10');
    await importForm.getByRole('button', { name: 'Import', exact: true }).click();
    const error = importForm.locator('.error-box');
    await expect.poll(() => error.getAttribute('data-code')).toBe('invalid_counts_csv');
    expect(await error.textContent()).toContain('What to do');

    await importForm.getByLabel('CSV', { exact: true }).fill(COUNTS_CSV);
    await importForm.getByRole('button', { name: 'Import', exact: true }).click();
    await importForm.getByText('2 row(s) imported.').waitFor();
    // 50,000 users per arm is past the planned size: the fixed test decides.
    await expect.poll(() => verdict.getAttribute('data-decision')).toBe('ship');
    const text = (await verdict.textContent()) ?? '';
    expect(text).toContain('regional gets more clicks: CTR 6.15 % against 5.00 % for generic, a lift of +23.0 %');
    expect(text).toContain('fixed-horizon test');
    const comparison = page.locator('[data-scope="overall"] [data-testid="comparisons"] tr[data-arm="regional"]');
    expect(await comparison.getByTestId('lift').textContent()).toBe('+23.0 %');
    expect(await page.locator('[data-scope="overall"] [data-testid="srm"]').getAttribute('data-mismatch')).toBe(
      'false',
    );
    expect(await page.locator('a[data-format="csv"]').getAttribute('href')).toBe(
      `/api/experiments/${EXPERIMENT}/report.csv`,
    );
    await screenshotBothLanguages(page, 'experiment-report');

    await page.goto(`${baseUrl}/experiments`);
    await page.locator(`tr[data-experiment="${EXPERIMENT}"]`).waitFor();
    await screenshotBothLanguages(page, 'experiments');
  });

  it("shows the experiment on the style's page and continues the style on new pictures", async () => {
    await page.goto(`${baseUrl}/library/${STYLE}`);
    const experiment = page.locator(`[data-testid="style-experiments"] li[data-experiment="${EXPERIMENT}"]`);
    await experiment.locator('[data-decision="ship"]').waitFor();
    expect(await experiment.textContent()).toContain('regional: lift +23.0 %');

    const continueForm = page.getByTestId('continue');
    await continueForm.getByLabel('New pictures').selectOption('datasets/rain');
    await continueForm.getByLabel('Training steps').fill('1');
    await continueForm.getByRole('button', { name: 'Start training' }).click();
    const started = continueForm.getByRole('status').getByRole('link');
    await started.waitFor();
    const jobId = (await started.textContent())!.trim();
    // Only the link to the training is this test's business; the training itself is the train command's.
    await fetch(`${baseUrl}/api/jobs/${encodeURIComponent(jobId)}/cancel`, { method: 'POST' });
    await page.reload();
    await continueForm.locator(`tr[data-job="${jobId}"]`).waitFor();
    await screenshotBothLanguages(page, 'style');
    await continueForm.locator(`tr[data-job="${jobId}"]`).getByRole('link').click();
    await page.waitForURL(`${baseUrl}/jobs/${encodeURIComponent(jobId)}`);
  });
});
