// `lora-scripts config keys|reference|schema`: the schema as a list, as the README table, as JSON Schema.
import { readFileSync } from 'node:fs';
import {
  CONFIG_KEYS,
  configJsonSchema,
  describeAllowed,
  flagName,
  keyNotes,
  metaOf,
  renderConfigReference,
  spliceConfigReference,
} from '../../config/index.js';
import { UsageError } from '../../errors.js';
import { writeFileAtomic } from '../../fs/atomic-write.js';
import { CONFIG_FLAGS } from '../command-flags.js';
import { parseFlags } from '../flag-values.js';

export function configCommand(what: string | undefined, given: Record<string, unknown>): number {
  const flags = parseFlags(CONFIG_FLAGS, given);
  switch (what ?? 'keys') {
    case 'keys':
      for (const key of CONFIG_KEYS) {
        const notes = keyNotes(key)
          .map((note) => `    (${note})\n`)
          .join('');
        process.stdout.write(
          `${key.padEnd(28)} --${flagName(key).padEnd(30)} ${describeAllowed(key)}\n    ${metaOf(key).description}\n${notes}`,
        );
      }
      return 0;
    case 'reference':
      if (flags.write !== undefined) {
        writeFileAtomic(flags.write, spliceConfigReference(readFileSync(flags.write, 'utf8')));
        process.stderr.write(`updated the config reference in ${flags.write}\n`);
      } else process.stdout.write(`${renderConfigReference()}\n`);
      return 0;
    case 'schema':
      process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
      return 0;
    default:
      throw new UsageError(`unknown \`config\` action \`${what}\``, {
        code: 'usage',
        culprit: 'lora-scripts config',
        hint: 'use `config keys`, `config reference` or `config schema`',
      });
  }
}
