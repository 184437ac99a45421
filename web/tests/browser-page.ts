// What the studio's browser tests share: Debian's chromium (browsers cannot be downloaded here), one English page of
// the usual size, and screenshots of a page in both languages into test-artifacts/screenshots/.
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { expect } from 'vitest';

export const CHROMIUM = '/usr/bin/chromium';
export const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const SCREENSHOTS = join(REPO, 'test-artifacts', 'screenshots');
/** How long one UI step may take on a busy 2-core machine. */
export const UI_MS = 30_000;

export const hasChromium = existsSync(CHROMIUM);

/** A headless chromium with one English page whose steps wait up to UI_MS. */
export async function openBrowserPage(): Promise<{ browser: Browser; page: Page }> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu'],
  });
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(UI_MS);
  return { browser, page: await context.newPage() };
}

/** The page as it is, in English and in Chinese (switched with the app's own control), then back to English. */
export async function screenshotBothLanguages(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.en.png`), fullPage: true });
  await page.getByTestId('language').selectOption('zh-CN');
  await expect.poll(() => page.evaluate(() => document.documentElement.lang)).toBe('zh-CN');
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.zh-CN.png`), fullPage: true });
  await page.getByTestId('language').selectOption('en');
  await expect.poll(() => page.evaluate(() => document.documentElement.lang)).toBe('en');
}
