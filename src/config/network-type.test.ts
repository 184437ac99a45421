// `network_type` and `lokr_factor`: the defaults train a plain LoRA, each type passes, and a wrong value or a
// LoHa/LoKr/DoRA run continuing an `init_lora` is one line naming the key.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../engine/paths.js';
import { ConfigError } from '../errors.js';
import { validateConfig } from './validate.js';

const ARTICLE_YAML = readFileSync(join(PACKAGE_ROOT, 'configs', 'jiangnan_lora.yaml'), 'utf8').replace(/^#.*\n/, '');

const withLines = (extra: string) => validateConfig({ file: 'c.yaml', text: `${ARTICLE_YAML}${extra}\n` });

function errorLine(extra: string): string {
  try {
    withLines(extra);
  } catch (error) {
    if (error instanceof ConfigError) return error.line;
    throw error;
  }
  throw new Error(`expected \`${extra}\` to be refused`);
}

describe('network_type', () => {
  it('defaults to a plain LoRA with LyCORIS factor -1', () => {
    expect(withLines('')).toMatchObject({ network_type: 'lora', lokr_factor: -1 });
  });

  it.each(['lora', 'loha', 'lokr', 'dora'])('accepts %s', (network) => {
    expect(withLines(`network_type: ${network}`).network_type).toBe(network);
  });

  it('refuses another type, naming the key and the four it takes', () => {
    const line = errorLine('network_type: glora');
    expect(line).toContain('`network_type`');
    expect(line).toContain('loha');
  });

  it('takes lokr_factor -1 or from 1, and refuses 0 and -2', () => {
    expect(withLines('lokr_factor: 8').lokr_factor).toBe(8);
    expect(errorLine('lokr_factor: 0')).toContain('`lokr_factor` must be -1 or an integer of at least 1');
    expect(errorLine('lokr_factor: -2')).toContain('`lokr_factor`');
  });

  it('refuses init_lora with a LoHa/LoKr/DoRA run in one line naming init_lora', () => {
    expect(withLines('init_lora: ./old.safetensors').init_lora).toBe('./old.safetensors');
    const line = errorLine('network_type: loha\ninit_lora: ./old.safetensors');
    expect(line).toContain('`init_lora` must be left out with `network_type` other than `lora`');
  });
});
