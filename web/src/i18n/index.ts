// Two languages (en, zh-CN): the dictionaries, the pure helpers and the Preact context.
export { I18nProvider, type I18n, useI18n } from './context.js';
export {
  chooseLanguage,
  explainError,
  explainFinding,
  formatBytes,
  formatDuration,
  formatTime,
  hasKey,
  type Language,
  LANGUAGES,
  translate,
} from './core.js';
export type { MessageKey } from './en.js';
