import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../engine/paths.js';
import { renderApiReference, spliceApiReference, studioOpenApiDocument } from './api-reference.js';

describe('API reference', () => {
  it('has a row for every route of the OpenAPI document', () => {
    const table = renderApiReference();
    for (const [path, operations] of Object.entries(studioOpenApiDocument().paths)) {
      for (const method of Object.keys(operations)) expect(table).toContain(`| \`${method.toUpperCase()} ${path}\` |`);
    }
  });

  it('is up to date in the README (run `npm run docs` after changing a route)', () => {
    const readme = readFileSync(join(PACKAGE_ROOT, 'README.md'), 'utf8');
    expect(spliceApiReference(readme)).toBe(readme);
  });
});
