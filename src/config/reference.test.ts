import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../engine/paths.js';
import { configJsonSchema, renderConfigReference, spliceConfigReference } from './reference.js';
import { CONFIG_KEYS } from './schema.js';

describe('config reference', () => {
  it('documents every key', () => {
    const table = renderConfigReference();
    for (const key of CONFIG_KEYS) expect(table).toContain(`| \`${key}\` |`);
  });

  it('is up to date in the README (run `npm run docs` after changing the schema)', () => {
    const readme = readFileSync(join(PACKAGE_ROOT, 'README.md'), 'utf8');
    expect(spliceConfigReference(readme)).toBe(readme);
  });

  it('exports a JSON Schema that lists every key with its description', () => {
    const schema = configJsonSchema() as { properties: Record<string, { description?: string }>; required: string[] };
    expect(Object.keys(schema.properties)).toEqual(CONFIG_KEYS);
    expect(schema.required.sort()).toEqual(['base_model', 'train_data_dir']);
    expect(schema.properties.lora_rank?.description).toMatch(/rank/i);
  });
});
