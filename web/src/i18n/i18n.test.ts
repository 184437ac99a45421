// The dictionaries and the pure i18n helpers: language choice, {values}, API errors and findings as sentences.
import { describe, expect, it } from 'vitest';
import { chooseLanguage, explainError, explainFinding, formatDuration, translate } from './core.js';
import { en } from './en.js';
import { zhCN } from './zh-CN.js';

describe('dictionaries', () => {
  it('have the same keys, each with text, and the same {values} in both languages', () => {
    expect(Object.keys(zhCN).sort()).toEqual(Object.keys(en).sort());
    const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const [key, text] of Object.entries(en)) {
      const zh = zhCN[key as keyof typeof en];
      expect(text.trim(), key).not.toBe('');
      expect(zh.trim(), key).not.toBe('');
      expect(placeholders(zh), key).toEqual(placeholders(text));
    }
  });

  it('give every error and finding sentence a what-to-do line', () => {
    for (const key of Object.keys(en)) {
      if (/^(err|finding)\.[\w-]+$/.test(key) && key !== 'err.unknown') expect(en, key).toHaveProperty(`${key}.do`);
    }
  });
});

describe('chooseLanguage', () => {
  it('keeps a remembered choice over the browser', () => {
    expect(chooseLanguage('zh-CN', ['en-US'])).toBe('zh-CN');
    expect(chooseLanguage('en', ['zh-CN'])).toBe('en');
  });
  it('reads any Chinese browser language as zh-CN, and falls back to English', () => {
    expect(chooseLanguage(null, ['zh-TW', 'en'])).toBe('zh-CN');
    expect(chooseLanguage('garbage', ['fr-FR', 'zh-Hans-CN'])).toBe('zh-CN');
    expect(chooseLanguage(null, ['fr-FR', 'de'])).toBe('en');
    expect(chooseLanguage(null, [])).toBe('en');
  });
});

describe('translate', () => {
  it('fills {values} and leaves unknown ones visible', () => {
    expect(translate('en', 'job.steps', { step: 3, total: 10 })).toBe('Step 3 of 10');
    expect(translate('zh-CN', 'job.steps', { step: 3, total: 10 })).toBe('第 3 / 10 步');
    expect(translate('en', 'job.steps', { step: 3 })).toBe('Step 3 of {total}');
  });
});

describe('explainError', () => {
  it('turns a known code into our sentence and action, keeping the server message as detail', () => {
    const explained = explainError('zh-CN', {
      code: 'path_missing',
      message: 'train_data_dir `data/x` does not exist',
      hint: 'create it',
    });
    expect(explained.message).toBe('设置中指定的文件或文件夹不存在。');
    expect(explained.action).toBe('检查路径（相对于工作区文件夹）。');
    expect(explained.detail).toBe('train_data_dir `data/x` does not exist');
  });
  it("falls back to the server's message and hint for a code it does not know", () => {
    expect(explainError('zh-CN', { code: 'brand_new', message: 'the thing broke', hint: 'fix the thing' })).toEqual({
      message: 'the thing broke',
      action: 'fix the thing',
      detail: undefined,
    });
  });
});

describe('explainFinding', () => {
  it('explains the four training diagnostics in plain words with what to do', () => {
    for (const code of ['divergence', 'oscillation', 'plateau', 'overfitting']) {
      const explained = explainFinding('en', { code, message: `raw ${code}` });
      expect(explained.message).not.toBe(`raw ${code}`);
      expect(explained.action).toBeTruthy();
    }
    expect(explainFinding('en', { code: 'other', message: 'm', hint: 'h' })).toMatchObject({
      message: 'm',
      action: 'h',
    });
  });
});

describe('formatDuration', () => {
  it('shows the two largest units', () => {
    expect(formatDuration('en', 45)).toBe('45 s');
    expect(formatDuration('en', 200)).toBe('3 min 20 s');
    expect(formatDuration('zh-CN', 3900)).toBe('1 小时 5 分');
  });
});
