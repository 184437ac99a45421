// The app's language: chosen once from localStorage or the browser, switchable, remembered, on <html lang>.
import type { ComponentChildren } from 'preact';
import { createContext } from 'preact';
import { useContext, useMemo, useState } from 'preact/hooks';
import { chooseLanguage, explainError, explainFinding, type Language, translate, type Vars } from './core.js';
import type { MessageKey } from './en.js';

const STORAGE_KEY = 'lora-scripts.language';

export interface I18n {
  language: Language;
  setLanguage(language: Language): void;
  t(key: MessageKey, vars?: Vars): string;
  explainError: (error: Parameters<typeof explainError>[1]) => ReturnType<typeof explainError>;
  explainFinding: (finding: Parameters<typeof explainFinding>[1]) => ReturnType<typeof explainFinding>;
}

const I18nContext = createContext<I18n | null>(null);

export function initialLanguage(): Language {
  let stored: string | null = null;
  try {
    stored = window.localStorage.getItem(STORAGE_KEY);
  } catch {
    // Storage can be off (private mode); the browser's language still applies.
  }
  return chooseLanguage(stored, navigator.languages ?? [navigator.language]);
}

export function I18nProvider({ children }: { children: ComponentChildren }) {
  const [language, setState] = useState<Language>(initialLanguage);
  const value = useMemo<I18n>(() => {
    document.documentElement.lang = language;
    return {
      language,
      setLanguage(next) {
        try {
          window.localStorage.setItem(STORAGE_KEY, next);
        } catch {
          // Not remembered, but still switched.
        }
        setState(next);
      },
      t: (key, vars) => translate(language, key, vars),
      explainError: (error) => explainError(language, error),
      explainFinding: (finding) => explainFinding(language, finding),
    };
  }, [language]);
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  const value = useContext(I18nContext);
  if (value === null) throw new Error('useI18n outside I18nProvider');
  return value;
}
