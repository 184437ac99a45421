import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { parseStyleNames, STYLE_NAMES, STYLES } from './styles.js';

describe('parseStyleNames', () => {
  it('reads one style or `all`, and lists the choices for anything else', () => {
    expect(parseStyleNames('lingnan')).toEqual(['lingnan']);
    expect(parseStyleNames('all')).toEqual([...STYLE_NAMES]);
    expect(() => parseStyleNames('desert')).toThrow(UsageError);
    expect(() => parseStyleNames('desert')).toThrow(
      expect.objectContaining({
        line: '--style: unknown style `desert`',
        hint: 'choose one of jiangnan, lingnan, northern_snow, desert_town, neon_night, generic, or `all`',
      }),
    );
  });
});

describe('STYLES', () => {
  it('gives every style at least three moods and its own style words; only generic has none', () => {
    for (const name of STYLE_NAMES) expect(STYLES[name].moods.length, name).toBeGreaterThanOrEqual(3);
    const words = STYLE_NAMES.map((name) => STYLES[name].words.style);
    expect(new Set(words).size).toBe(words.length);
    expect(STYLE_NAMES.filter((name) => STYLES[name].words.style === null)).toEqual(['generic']);
  });
});
