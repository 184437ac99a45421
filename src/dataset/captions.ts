// Caption sources, pure: `metadata.csv` rows (`file_name,caption`, header optional) and caption-file naming.

export interface MetadataRow {
  fileName: string;
  caption: string;
  /** 1-based line of the row in the CSV, for error messages. */
  line: number;
}

export class CsvSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

/** RFC 4180 records: quoted fields may hold commas, quotes (doubled) and newlines. */
export function parseCsvRecords(text: string): { cells: string[]; line: number }[] {
  const records: { cells: string[]; line: number }[] = [];
  let cells: string[] = [];
  let cell = '';
  let inQuotes = false;
  let line = 1;
  let recordLine = 1;
  const source = text.replace(/^\uFEFF/, '');
  for (let i = 0; i < source.length; i++) {
    const ch = source[i]!;
    if (inQuotes) {
      if (ch === '"' && source[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') inQuotes = false;
      else {
        if (ch === '\n') line++;
        cell += ch;
      }
    } else if (ch === '"' && cell.trim() === '') {
      inQuotes = true;
      cell = '';
    } else if (ch === ',') {
      cells.push(cell);
      cell = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && source[i + 1] === '\n') i++;
      cells.push(cell);
      if (cells.some((c) => c.trim() !== '')) records.push({ cells, line: recordLine });
      cells = [];
      cell = '';
      line++;
      recordLine = line;
    } else cell += ch;
  }
  if (inQuotes) throw new CsvSyntaxError('a quoted caption is never closed', recordLine);
  cells.push(cell);
  if (cells.some((c) => c.trim() !== '')) records.push({ cells, line: recordLine });
  return records;
}

const FILE_COLUMNS = ['file_name', 'filename', 'file', 'image'];
const CAPTION_COLUMNS = ['caption', 'text', 'prompt'];

/** Rows of a metadata CSV. A first row whose cells are column names (`file_name,caption`) is a header. */
export function parseMetadataCsv(text: string): MetadataRow[] {
  const records = parseCsvRecords(text);
  let fileColumn = 0;
  let captionColumn = 1;
  const first = records[0];
  if (first) {
    const names = first.cells.map((c) => c.trim().toLowerCase());
    const f = names.findIndex((n) => FILE_COLUMNS.includes(n));
    const c = names.findIndex((n) => CAPTION_COLUMNS.includes(n));
    if (f >= 0 && c >= 0) {
      fileColumn = f;
      captionColumn = c;
      records.shift();
    }
  }
  return records.map(({ cells, line }) => {
    if (cells.length <= Math.max(fileColumn, captionColumn)) {
      throw new CsvSyntaxError('expected `file_name,caption` (quote captions that contain commas)', line);
    }
    // A caption with unquoted commas spills into extra cells: join them back, as users mean one caption.
    const captionCells =
      captionColumn === cells.length - 1 || captionColumn > fileColumn
        ? cells.slice(captionColumn)
        : [cells[captionColumn]!];
    return { fileName: cells[fileColumn]!.trim(), caption: captionCells.join(',').trim(), line };
  });
}

function csvCell(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The inverse of `parseMetadataCsv`: a header row, then one `file_name,caption` row per image, quoted where needed. */
export function metadataCsvText(rows: readonly { fileName: string; caption: string }[]): string {
  return `${['file_name,caption', ...rows.map((row) => `${csvCell(row.fileName)},${csvCell(row.caption)}`)].join('\n')}\n`;
}

/** `img/017.jpg` → `img/017.txt` */
export function captionFileFor(imagePath: string, extension: string): string {
  const dot = imagePath.lastIndexOf('.');
  return (dot > imagePath.lastIndexOf('/') ? imagePath.slice(0, dot) : imagePath) + extension;
}
