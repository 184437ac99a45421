// A style's prompt template (pure): `{title}, jiangnan water town, <lora:{style}:{strength}>` → the prompt to render.
import { LibraryError } from './library-error.js';

/** Every placeholder a template may use; `{{` and `}}` write literal braces. */
export const PROMPT_PLACEHOLDERS = {
  title: "the cover's title (or whatever text the caller renders for)",
  prompt: "the caller's own extra prompt, empty when none",
  style: 'the style name, so `<lora:{style}:{strength}>` loads the promoted version',
  strength: "the version's recommended strength, e.g. `0.7`",
  trigger_words: "the version's trigger words, joined by `, `",
} as const;
export type PromptPlaceholder = keyof typeof PROMPT_PLACEHOLDERS;
export type PromptValues = Record<PromptPlaceholder, string>;

const TOKEN = /\{\{|\}\}|\{([^{}]*)\}|[{}]/g;

/** Throws `invalid_prompt_template` naming the first unknown placeholder or stray brace. */
export function checkPromptTemplate(template: string): string {
  for (const match of template.matchAll(TOKEN)) {
    const [whole, name] = match;
    if (whole === '{{' || whole === '}}') continue;
    if (name === undefined) throw invalidTemplate(`a lone \`${whole}\` at character ${match.index + 1}`, template);
    if (!(name in PROMPT_PLACEHOLDERS)) throw invalidTemplate(`\`{${name}}\` is not a placeholder`, template);
  }
  return template;
}

/**
 * The template with its placeholders filled. Comma-separated parts left empty (no `{prompt}` given, no trigger
 * words) are dropped, so `{title}, {prompt}, town` with no prompt reads `title, town`.
 */
export function fillPromptTemplate(template: string, values: PromptValues): string {
  checkPromptTemplate(template);
  const filled = template.replace(TOKEN, (whole, name: string | undefined) => {
    if (whole === '{{') return '{';
    if (whole === '}}') return '}';
    return values[name as PromptPlaceholder];
  });
  return filled
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .join(', ');
}

function invalidTemplate(problem: string, template: string): LibraryError {
  return new LibraryError(`prompt template: ${problem}`, {
    code: 'invalid_prompt_template',
    culprit: template,
    hint: `use ${Object.keys(PROMPT_PLACEHOLDERS)
      .map((name) => `\`{${name}}\``)
      .join(', ')}; write \`{{\` and \`}}\` for literal braces`,
  });
}
