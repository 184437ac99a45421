// `lora-scripts auto-label --input DIR --output DIR/metadata.csv`: draft captions with the rule-based captioner.
import { resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { autoLabel } from '../../label/index.js';
import type { CommandContext } from '../context.js';

export async function autoLabelCommand(flags: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  if (typeof flags.input !== 'string') throw new UsageError('`--input DIR` is required', { code: 'usage', culprit: 'auto-label' });
  if (flags.model !== undefined) {
    throw new UsageError('captioning models (BLIP, Florence-2, WD14) are not available yet', {
      code: 'captioner_unavailable',
      culprit: '--model',
      hint: 'leave out `--model` to use the rule-based captioner, then edit the drafts',
    });
  }
  const inputDir = resolve(ctx.cwd, flags.input);
  const outputCsv = resolve(ctx.cwd, typeof flags.output === 'string' ? flags.output : `${flags.input}/metadata.csv`);
  process.stderr.write('auto-label: no captioning model given, using the rule-based captioner (trigger word + folder name + shape, light and colour)\n');
  const result = await autoLabel({
    inputDir,
    outputCsv,
    shouldOverwrite: Boolean(flags.overwrite),
    isDryRun: Boolean(flags.dryRun),
    triggerWord: flags.triggerWord as string | undefined,
    prefix: flags.prefix as string | undefined,
    suffix: flags.suffix as string | undefined,
  });
  if (flags.dryRun) for (const row of result.rows) process.stdout.write(`${row.isNew ? 'new ' : 'kept'}  ${row.fileName}: ${row.caption}\n`);
  process.stderr.write(`${flags.dryRun ? 'would write' : 'wrote'} ${result.written} captions, kept ${result.kept} existing ones${flags.dryRun ? '' : ` in ${outputCsv}`}\n`);
  return 0;
}
