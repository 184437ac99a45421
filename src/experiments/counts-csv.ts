// Aggregated counts from a platform's own analytics, one CSV row per arm and day (and segment): parsed to DailyCount
// rows or refused with one line naming the line and the column at fault.
import { UsageError } from '../errors.js';
import type { DailyCount } from './model.js';

const REQUIRED = ['day', 'arm', 'users', 'clicks'] as const;
const OPTIONAL = ['segment'] as const;
const COLUMNS: readonly string[] = [...REQUIRED, ...OPTIONAL];

/** The most rows one import takes (a year of 100 segments × 10 arms fits easily). */
export const MAX_CSV_ROWS = 500_000;

export const CSV_FORMAT_HINT =
  'the first line names the columns: day,arm,users,clicks and optionally segment; then one row per arm and day, ' +
  'e.g. `2026-12-01,regional,5120,301` (users: exposed users; clicks: those of them who clicked)';

function csvError(message: string, culprit: string): UsageError {
  return new UsageError(message, { code: 'invalid_counts_csv', culprit, hint: CSV_FORMAT_HINT });
}

/** Splits one line on commas; a field may be double-quoted (with `""` for a quote inside). */
function splitLine(line: string, lineNo: number): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (quoted) {
      if (char === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"' && field.trim() === '') {
      quoted = true;
      field = '';
    } else if (char === ',') {
      fields.push(field.trim());
      field = '';
    } else field += char;
  }
  if (quoted) throw csvError('a quoted field is not closed', `line ${lineNo}`);
  fields.push(field.trim());
  return fields;
}

const isValidDay = (day: string) => {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return false;
  const date = new Date(`${day}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === day;
};

function wholeNumber(text: string, lineNo: number, column: string): number {
  if (!/^\d{1,15}$/.test(text)) {
    throw csvError(`must be a whole number ≥ 0, got ${JSON.stringify(text)}`, `line ${lineNo}, column \`${column}\``);
  }
  return Number(text);
}

/**
 * Parses the CSV; `arms` are the experiment's arm names (a row for another arm is refused). A (day, segment, arm)
 * twice in one file is refused too: the import replaces stored rows, so a repeat would be ambiguous.
 */
export function parseCountsCsv(text: string, arms: readonly string[]): DailyCount[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const header = splitLine(lines[0] ?? '', 1).map((name) => name.toLowerCase());
  for (const [index, name] of header.entries()) {
    if (!COLUMNS.includes(name)) {
      throw csvError(
        `unknown column ${JSON.stringify(name)}; the columns are ${COLUMNS.join(', ')}`,
        `line 1, column ${index + 1}`,
      );
    }
    if (header.indexOf(name) !== index)
      throw csvError(`column \`${name}\` appears twice`, `line 1, column ${index + 1}`);
  }
  const missing = REQUIRED.filter((name) => !header.includes(name));
  if (missing.length > 0) throw csvError(`missing column ${missing.map((name) => `\`${name}\``).join(', ')}`, 'line 1');
  const rows: DailyCount[] = [];
  const seen = new Set<string>();
  for (let index = 1; index < lines.length; index++) {
    const lineNo = index + 1;
    if (lines[index]!.trim() === '') continue;
    if (rows.length >= MAX_CSV_ROWS) throw csvError(`more than ${MAX_CSV_ROWS} rows; split the file`, `line ${lineNo}`);
    const fields = splitLine(lines[index]!, lineNo);
    if (fields.length !== header.length) {
      throw csvError(`has ${fields.length} fields, the header has ${header.length}`, `line ${lineNo}`);
    }
    const value = (column: string) => fields[header.indexOf(column)] ?? '';
    const where = (column: string) => `line ${lineNo}, column \`${column}\``;
    const day = value('day');
    if (!isValidDay(day)) throw csvError(`must be a date as YYYY-MM-DD, got ${JSON.stringify(day)}`, where('day'));
    const arm = value('arm');
    if (!arms.includes(arm)) {
      throw csvError(`unknown arm ${JSON.stringify(arm)}; the experiment's arms are ${arms.join(', ')}`, where('arm'));
    }
    const segmentText = header.includes('segment') ? value('segment') : '';
    if (segmentText !== '' && !/^[\p{L}\p{N}_.-]{1,64}$/u.test(segmentText)) {
      throw csvError('must be 1–64 letters, digits, `_`, `-` or `.` (or empty)', where('segment'));
    }
    const users = wholeNumber(value('users'), lineNo, 'users');
    const clicks = wholeNumber(value('clicks'), lineNo, 'clicks');
    if (clicks > users) throw csvError(`${clicks} clicking users is more than the ${users} users`, where('clicks'));
    const key = `${day}\u0000${segmentText}\u0000${arm}`;
    if (seen.has(key))
      throw csvError(
        `a second row for day ${day}, arm ${arm}${segmentText ? `, segment ${segmentText}` : ''}`,
        `line ${lineNo}`,
      );
    seen.add(key);
    rows.push({ day, segment: segmentText === '' ? null : segmentText, arm, users, clicks });
  }
  return rows;
}

/** Daily counts back to the same CSV (the export of what an experiment holds). */
export function formatCountsCsv(rows: readonly DailyCount[]): string {
  const quote = (text: string) => (/[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text);
  const lines = rows.map((row) => [row.day, quote(row.segment ?? ''), quote(row.arm), row.users, row.clicks].join(','));
  return `${['day', 'segment', 'arm', 'users', 'clicks'].join(',')}\n${lines.map((line) => `${line}\n`).join('')}`;
}
