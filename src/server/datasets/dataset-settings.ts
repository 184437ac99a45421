// Pure: `dataset.json`, the settings kept in a dataset's folder (the trigger word), read leniently and written whole.
import { z } from 'zod';

export const SETTINGS_FILE = 'dataset.json';

export const MAX_TRIGGER_WORD_CHARS = 100;

/** Keys this version does not know are kept, so an older server does not erase a newer one's settings. */
const settingsFileSchema = z.looseObject({ trigger_word: z.string().nullable().optional() });

export type DatasetSettings = z.infer<typeof settingsFileSchema>;

/** The settings in `text`; a damaged or foreign file reads as no settings, since it is only advice for the rules. */
export function parseSettings(text: string | null): DatasetSettings {
  if (text === null) return {};
  try {
    const parsed = settingsFileSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : {};
  } catch {
    return {};
  }
}

export function triggerWordOf(settings: DatasetSettings): string | null {
  const word = settings.trigger_word;
  return typeof word === 'string' && word.trim() !== '' ? word : null;
}

export function settingsText(settings: DatasetSettings): string {
  return `${JSON.stringify(settings, null, 2)}\n`;
}
