// The pure side of i18n: which language, a key's text with its {values}, an API error as a sentence and what to do.
import { en, type MessageKey } from './en.js';
import { zhCN } from './zh-CN.js';

export type Language = 'en' | 'zh-CN';
export const LANGUAGES: readonly { id: Language; label: string }[] = [
  { id: 'en', label: 'English' },
  { id: 'zh-CN', label: '简体中文' },
];
const DICTIONARIES: Record<Language, Record<MessageKey, string>> = { en, 'zh-CN': zhCN };

/** The remembered choice when there is one, else the browser's first language we have (any zh-* reads zh-CN). */
export function chooseLanguage(stored: string | null, preferred: readonly string[]): Language {
  if (stored === 'en' || stored === 'zh-CN') return stored;
  for (const tag of preferred) {
    const lower = tag.toLowerCase();
    if (lower.startsWith('zh')) return 'zh-CN';
    if (lower.startsWith('en')) return 'en';
  }
  return 'en';
}

export type Vars = Record<string, string | number>;

export function translate(language: Language, key: MessageKey, vars: Vars = {}): string {
  const text = DICTIONARIES[language][key] ?? en[key];
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in vars ? String(vars[name]) : whole));
}

export function hasKey(key: string): key is MessageKey {
  return Object.hasOwn(en, key);
}

export interface Explained {
  /** One sentence: what happened. */
  message: string;
  /** What to do about it, when known. */
  action: string | undefined;
  /** The server's own words, shown under "details" when the sentence is ours (it names files, fields, lines). */
  detail: string | undefined;
}

/**
 * An API error (`{code, message, hint}`) in the reader's language: our sentence for a known code, with the
 * server's message kept as detail; the server's message and hint for a code we do not know.
 */
export function explainError(
  language: Language,
  error: { code: string; message?: string; hint?: string | undefined },
): Explained {
  const key = `err.${error.code}`;
  const actionKey = `${key}.do`;
  if (hasKey(key)) {
    return {
      message: translate(language, key),
      action: hasKey(actionKey) ? translate(language, actionKey) : error.hint,
      detail: error.message && error.message !== translate(language, key) ? error.message : undefined,
    };
  }
  return { message: error.message || translate(language, 'err.unknown'), action: error.hint, detail: undefined };
}

/** A training diagnostic (`finding` event) the same way: our words for the four known codes, else the server's. */
export function explainFinding(
  language: Language,
  finding: { code: string; message: string; hint?: string | undefined },
): Explained {
  const key = `finding.${finding.code}`;
  const actionKey = `${key}.do`;
  if (hasKey(key) && hasKey(actionKey)) {
    return { message: translate(language, key), action: translate(language, actionKey), detail: finding.message };
  }
  return { message: finding.message, action: finding.hint, detail: undefined };
}

/** Seconds as `1 h 5 min`, `3 min 20 s`, `45 s` (units are the same in both languages' UI text). */
export function formatDuration(language: Language, seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  const units = language === 'zh-CN' ? { h: ' 小时', m: ' 分', s: ' 秒' } : { h: ' h', m: ' min', s: ' s' };
  if (h > 0) return `${h}${units.h} ${m}${units.m}`;
  if (m > 0) return `${m}${units.m} ${rest}${units.s}`;
  return `${rest}${units.s}`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatTime(language: Language, iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(language, { dateStyle: 'short', timeStyle: 'short' });
}
