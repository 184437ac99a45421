// Which LoRA file a prompt's `<lora:NAME:…>` means, the way WebUI decides: the file stem first, then the
// `ss_output_name` alias. Pure: candidates in, one file (or an error that lists the folders and close names) out.
import { distance } from 'fastest-levenshtein';
import { UsageError } from '../errors.js';

export interface LoraCandidate {
  path: string;
  /** File name without `.safetensors`. */
  stem: string;
  /** `ss_output_name` from the file's metadata, when it has one. */
  alias: string | null;
}

export function pickLora(name: string, candidates: LoraCandidate[], folders: string[], culprit: string): LoraCandidate {
  const byStem = candidates.filter((c) => c.stem === name);
  const matches = byStem.length > 0 ? byStem : candidates.filter((c) => c.alias === name);
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) {
    throw new UsageError(
      `\`<lora:${name}:…>\` matches ${matches.length} files: ${matches.map((m) => m.path).join(', ')}`,
      {
        code: 'lora_ambiguous',
        culprit,
        hint: 'rename one of them, or pass the file itself with `--lora FILE:WEIGHT`',
      },
    );
  }
  const close = closeNames(name, candidates);
  const searched = folders.length > 0 ? folders.map((f) => `\`${f}\``).join(', ') : 'no folders';
  throw new UsageError(`no LoRA named \`${name}\` in ${searched} (${candidates.length} LoRA files there)`, {
    code: 'lora_not_found',
    culprit,
    hint:
      close.length > 0
        ? `did you mean ${close.map((c) => `\`${c}\``).join(', ')}?`
        : 'add the folder that holds it with `--lora-dir DIR`, or pass the file with `--lora FILE:WEIGHT`',
  });
}

/** Up to three names (stems and aliases) within a few typos of `name`, nearest first. */
function closeNames(name: string, candidates: LoraCandidate[]): string[] {
  const names = [...new Set(candidates.flatMap((c) => (c.alias && c.alias !== c.stem ? [c.stem, c.alias] : [c.stem])))];
  const limit = Math.max(2, Math.floor(name.length / 3));
  return names
    .map((candidate) => ({ candidate, d: distance(name.toLowerCase(), candidate.toLowerCase()) }))
    .filter(({ d }) => d <= limit)
    .sort((a, b) => a.d - b.d || a.candidate.localeCompare(b.candidate))
    .slice(0, 3)
    .map(({ candidate }) => candidate);
}
