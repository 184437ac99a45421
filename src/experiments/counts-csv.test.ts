import { describe, expect, it } from 'vitest';
import { LoraScriptsError } from '../errors.js';
import { formatCountsCsv, parseCountsCsv } from './counts-csv.js';

const ARMS = ['generic', 'regional'];

function errorOf(text: string): LoraScriptsError {
  try {
    parseCountsCsv(text, ARMS);
  } catch (error) {
    if (error instanceof LoraScriptsError) return error;
    throw error;
  }
  throw new Error('parsed without an error');
}

describe('parseCountsCsv', () => {
  it('reads rows in any column order, with or without segment, skipping blank lines and a BOM', () => {
    const text =
      '\uFEFFarm,day,clicks,users,segment\r\ngeneric,2026-12-01,250,5000,江苏\n\nregional,2026-12-01,310,5010,\n';
    expect(parseCountsCsv(text, ARMS)).toEqual([
      { day: '2026-12-01', segment: '江苏', arm: 'generic', users: 5000, clicks: 250 },
      { day: '2026-12-01', segment: null, arm: 'regional', users: 5010, clicks: 310 },
    ]);
  });

  it('round-trips through formatCountsCsv', () => {
    const rows = parseCountsCsv('day,segment,arm,users,clicks\n2026-12-02,sichuan,regional,10,3\n', ARMS);
    expect(parseCountsCsv(formatCountsCsv(rows), ARMS)).toEqual(rows);
  });

  it.each([
    ['day,arm,users,clicks,region\n', 'line 1, column 5: unknown column "region"'],
    ['day,arm,users\n', 'line 1: missing column `clicks`'],
    [
      'day,arm,users,clicks\n2026-12-01,generic,100,abc\n',
      'line 2, column `clicks`: must be a whole number ≥ 0, got "abc"',
    ],
    [
      'day,arm,users,clicks\n2026-12-01,generic,100,5\n2026-02-30,generic,1,0\n',
      'line 3, column `day`: must be a date',
    ],
    ['day,arm,users,clicks\n2026-12-01,other,100,5\n', 'line 2, column `arm`: unknown arm "other"'],
    ['day,arm,users,clicks\n2026-12-01,generic,10,11\n', 'line 2, column `clicks`: 11 clicking users is more than'],
    ['day,arm,users,clicks\n2026-12-01,generic,10\n', 'line 2: has 3 fields, the header has 4'],
    [
      'day,arm,users,clicks\n2026-12-01,generic,10,1\n2026-12-01,generic,12,1\n',
      'line 3: a second row for day 2026-12-01',
    ],
    ['day,arm,users,clicks\n2026-12-01,generic,-1,0\n', 'line 2, column `users`: must be a whole number'],
  ])('refuses %j with one line naming the line and column', (text, expected) => {
    const error = errorOf(text);
    expect(error.code).toBe('invalid_counts_csv');
    expect(error.line).toContain(expected);
    expect(error.line).not.toContain('\n');
    expect(error.hint).toContain('day,arm,users,clicks');
  });
});
