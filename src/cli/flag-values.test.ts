// The one flag parser: typed values from cac's flags, or one UsageError line naming the flag.
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { EXIT_CODES, UsageError } from '../errors.js';
import { CONVERT_FLAGS, GENERATE_FLAGS, MAKE_CHECKPOINT_FLAGS, PREPARE_FLAGS } from './command-flags.js';
import { cacFlag, defineFlags, flagHelp, integer, list, parseFlags, text, toggle } from './flag-values.js';

/** The line the CLI prints for a thrown error. */
function errorOf(run: () => unknown): { line: string; hint: string | undefined; exitCode: number } {
  try {
    run();
  } catch (error) {
    if (error instanceof UsageError) return { line: error.line, hint: error.hint, exitCode: error.exitCode };
    throw error;
  }
  throw new Error('expected a UsageError');
}

describe('parseFlags', () => {
  it('turns what cac gives into typed values with their defaults', () => {
    // cac (mri) hands over numbers for number-like values, even for text flags.
    expect(parseFlags(MAKE_CHECKPOINT_FLAGS, { out: 123, seed: '7' })).toEqual({
      family: 'sd1',
      out: '123',
      fullSize: false,
      seed: 7,
    });
    const generate = parseFlags(GENERATE_FLAGS, {
      prompt: 'a bridge',
      lora: ['a.safetensors:0.7', 'b'],
      seed: -1,
      cfgScale: 6.5,
    });
    expect([
      generate.prompt,
      generate.lora,
      generate.loraDir,
      generate.seed,
      generate.cfgScale,
      generate.steps,
    ]).toEqual([['a bridge'], ['a.safetensors:0.7', 'b'], [], -1, 6.5, undefined]);
    const prepare = parseFlags(PREPARE_FLAGS, { target: 512, minSharpness: '0.02' });
    expect([prepare.target, prepare.crop, prepare.minSharpness, prepare.maxUpscale, prepare.jobs]).toEqual([
      512,
      'center',
      0.02,
      1.5,
      undefined,
    ]);
  });

  it('names the flag, what it accepts and the value it got', () => {
    const seed = errorOf(() => parseFlags(MAKE_CHECKPOINT_FLAGS, { out: 'x', seed: 'abc' }));
    expect(seed).toEqual({
      line: '--seed: must be an integer from 0 to 4294967295, got `"abc"`',
      hint: '`lora-scripts make-checkpoint --help` lists its flags and what they accept',
      exitCode: EXIT_CODES.usage,
    });
    expect(errorOf(() => parseFlags(MAKE_CHECKPOINT_FLAGS, { out: 'x', seed: 1.5 })).line).toBe(
      '--seed: must be an integer from 0 to 4294967295, got `1.5`',
    );
    expect(errorOf(() => parseFlags(PREPARE_FLAGS, { target: 500 })).line).toBe(
      '--target: must be an integer from 64 to 4096, a multiple of 8, got `500`',
    );
    expect(errorOf(() => parseFlags(PREPARE_FLAGS, { maxAspect: 0.5 })).line).toBe(
      '--max-aspect: must be a number ≥ 1, got `0.5`',
    );
    expect(errorOf(() => parseFlags(CONVERT_FLAGS, { to: 'comfy', out: 'o' })).line).toBe(
      '--to: must be one of `kohya`, `diffusers`, got `"comfy"`',
    );
  });

  it('names the command when a required flag is missing, with its example as the hint', () => {
    const missing = errorOf(() => parseFlags(CONVERT_FLAGS, { to: 'kohya' }));
    expect(missing.line).toBe('convert: `--out <file>` is required');
    expect(missing.hint).toBe(CONVERT_FLAGS.example);
  });

  it('reads repeatable, switch and negated flags', () => {
    const table = defineFlags('t', {
      tag: { schema: list(text()), value: '<tag>', help: 'Tags' },
      dryRun: { schema: toggle(), help: 'Write nothing' },
      hash: { schema: z.boolean().default(true), isNegated: true, help: 'Skip hashing' },
      count: { schema: integer(1, 9).default(3), value: '<n>', help: 'How many' },
    });
    expect(parseFlags(table, { tag: 'a', hash: false })).toEqual({ tag: ['a'], dryRun: false, hash: false, count: 3 });
    expect(errorOf(() => parseFlags(table, { tag: ['a', ''] })).line).toBe('--tag: must not be empty, got `["a",""]`');
    expect([
      cacFlag('tag', table.flags.tag),
      cacFlag('dryRun', table.flags.dryRun),
      cacFlag('hash', table.flags.hash),
    ]).toEqual(['--tag <tag>', '--dry-run', '--no-hash']);
    expect(flagHelp(table.flags.count)).toBe('How many (an integer from 1 to 9; default: 3)');
    expect(flagHelp(table.flags.tag)).toBe('Tags');
  });
});
