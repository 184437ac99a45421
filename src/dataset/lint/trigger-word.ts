// Rule `trigger-word`: captions without the trigger word the LoRA is meant to answer to.
import type { CaptionRule } from '../findings.js';

function containsWord(caption: string, word: string): boolean {
  const escaped = word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^\\p{L}\\p{N}_])${escaped}($|[^\\p{L}\\p{N}_])`, 'iu').test(caption);
}

export const triggerWordRule: CaptionRule = {
  name: 'trigger-word',
  summary: 'captions that lack the trigger word (when one is given)',
  check: (records, { triggerWord }) => {
    if (triggerWord === null || triggerWord.trim() === '') return [];
    return records.flatMap((record) =>
      record.caption === null || containsWord(record.caption, triggerWord)
        ? []
        : [
            {
              image: record.image,
              rule: 'trigger-word',
              severity: 'warn' as const,
              message: `caption lacks the trigger word \`${triggerWord}\``,
              hint: `start the caption with \`${triggerWord}\`, or set \`trigger_word: ${triggerWord}\` in the config so \`train\` adds it`,
            },
          ],
    );
  },
};
