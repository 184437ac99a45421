// Reads a TrueType font (raw, or wrapped in WOFF 1.0) far enough to draw text as SVG paths: the character map, the
// advance widths and the glyph outlines. Pure: bytes in, numbers and path strings out. Drawing the outlines
// ourselves means a title renders the same on every machine: librsvg draws paths without asking fontconfig for a
// font, so no system font (and no tofu from a missing one) is involved.
import { inflateSync } from 'node:zlib';
import { UsageError } from '../../errors.js';

export interface TrueTypeFont {
  unitsPerEm: number;
  /** Above the baseline, in font units (positive). */
  ascender: number;
  /** Below the baseline, in font units (negative). */
  descender: number;
  /** The glyph of a code point; 0 (`.notdef`, the tofu box) when the font has none. */
  glyphIndex(codePoint: number): number;
  /** How far the pen moves after the glyph, in font units. */
  advanceWidth(glyph: number): number;
  /** The outline as SVG path data in font units, y pointing up (flip it when drawing). */
  outlinePath(glyph: number): string;
}

type Tables = Map<string, DataView>;

const WOFF_SIGNATURE = 0x774f4646; // 'wOFF'
const TRUETYPE_FLAVOURS = new Set([0x00010000, 0x74727565]); // 1.0 and 'true'

/** A `.ttf` or a `.woff` whose outlines are TrueType (`glyf`); CFF fonts (`.otf`) are refused by name. */
export function parseTrueTypeFont(bytes: Uint8Array, name: string): TrueTypeFont {
  const tables = readTables(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), name);
  for (const tag of ['head', 'hhea', 'hmtx', 'maxp', 'cmap', 'loca', 'glyf']) {
    if (!tables.has(tag)) throw fontError(name, `has no \`${tag}\` table (only TrueType-outline fonts are read)`);
  }
  const head = tables.get('head')!;
  const hhea = tables.get('hhea')!;
  const numGlyphs = tables.get('maxp')!.getUint16(4);
  const offsets = glyphOffsets(tables.get('loca')!, head.getInt16(50) === 1, numGlyphs);
  const advances = advanceWidths(tables.get('hmtx')!, hhea.getUint16(34), numGlyphs);
  const cmap = characterMap(tables.get('cmap')!, name);
  const glyf = tables.get('glyf')!;
  const paths = new Map<number, string>();
  return {
    unitsPerEm: head.getUint16(18),
    ascender: hhea.getInt16(4),
    descender: hhea.getInt16(6),
    glyphIndex: (codePoint) => {
      const glyph = cmap(codePoint);
      return glyph < numGlyphs ? glyph : 0;
    },
    advanceWidth: (glyph) => advances[Math.min(glyph, numGlyphs - 1)] ?? 0,
    outlinePath: (glyph) => {
      let path = paths.get(glyph);
      if (path === undefined) {
        path = contoursToPath(glyphContours(glyf, offsets, glyph, 0));
        paths.set(glyph, path);
      }
      return path;
    },
  };
}

function readTables(view: DataView, name: string): Tables {
  const signature = view.getUint32(0);
  const tables: Tables = new Map();
  if (signature === WOFF_SIGNATURE) {
    if (!TRUETYPE_FLAVOURS.has(view.getUint32(4))) throw fontError(name, 'is a WOFF of CFF outlines, not TrueType');
    const count = view.getUint16(12);
    for (let i = 0; i < count; i++) {
      const entry = 44 + i * 20;
      const offset = view.getUint32(entry + 4);
      const compressed = view.getUint32(entry + 8);
      const original = view.getUint32(entry + 12);
      const stored = new Uint8Array(view.buffer, view.byteOffset + offset, compressed);
      // WOFF 1.0: a table is zlib-compressed only when that made it smaller.
      const data = compressed < original ? inflateSync(stored) : stored;
      tables.set(tagAt(view, entry), new DataView(data.buffer, data.byteOffset, data.byteLength));
    }
    return tables;
  }
  if (!TRUETYPE_FLAVOURS.has(signature)) throw fontError(name, 'is not a TrueType or WOFF font');
  const count = view.getUint16(4);
  for (let i = 0; i < count; i++) {
    const entry = 12 + i * 16;
    const offset = view.getUint32(entry + 8);
    const length = view.getUint32(entry + 12);
    tables.set(tagAt(view, entry), new DataView(view.buffer, view.byteOffset + offset, length));
  }
  return tables;
}

function tagAt(view: DataView, at: number): string {
  return String.fromCharCode(view.getUint8(at), view.getUint8(at + 1), view.getUint8(at + 2), view.getUint8(at + 3));
}

function glyphOffsets(loca: DataView, isLong: boolean, numGlyphs: number): Uint32Array {
  const offsets = new Uint32Array(numGlyphs + 1);
  for (let i = 0; i <= numGlyphs; i++) offsets[i] = isLong ? loca.getUint32(i * 4) : loca.getUint16(i * 2) * 2;
  return offsets;
}

function advanceWidths(hmtx: DataView, numberOfHMetrics: number, numGlyphs: number): Uint16Array {
  const advances = new Uint16Array(numGlyphs);
  for (let i = 0; i < numGlyphs; i++) advances[i] = hmtx.getUint16(Math.min(i, numberOfHMetrics - 1) * 4);
  return advances;
}

/** The best Unicode subtable: format 12 (all planes) over format 4 (the BMP). */
function characterMap(cmap: DataView, name: string): (codePoint: number) => number {
  const count = cmap.getUint16(2);
  let format4: number | null = null;
  for (let i = 0; i < count; i++) {
    const platform = cmap.getUint16(4 + i * 8);
    const encoding = cmap.getUint16(6 + i * 8);
    const offset = cmap.getUint32(8 + i * 8);
    const isUnicode = platform === 0 || (platform === 3 && (encoding === 1 || encoding === 10));
    if (!isUnicode) continue;
    const format = cmap.getUint16(offset);
    if (format === 12) return format12(cmap, offset);
    if (format === 4) format4 = offset;
  }
  if (format4 === null) throw fontError(name, 'has no Unicode character map');
  return format4Lookup(cmap, format4);
}

function format12(cmap: DataView, at: number): (codePoint: number) => number {
  const groups = cmap.getUint32(at + 12);
  return (codePoint) => {
    let low = 0;
    let high = groups - 1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      const group = at + 16 + mid * 12;
      const start = cmap.getUint32(group);
      const end = cmap.getUint32(group + 4);
      if (codePoint < start) high = mid - 1;
      else if (codePoint > end) low = mid + 1;
      else return cmap.getUint32(group + 8) + (codePoint - start);
    }
    return 0;
  };
}

function format4Lookup(cmap: DataView, at: number): (codePoint: number) => number {
  const segments = cmap.getUint16(at + 6) / 2;
  const ends = at + 14;
  const starts = ends + segments * 2 + 2;
  const deltas = starts + segments * 2;
  const rangeOffsets = deltas + segments * 2;
  return (codePoint) => {
    if (codePoint > 0xffff) return 0;
    for (let s = 0; s < segments; s++) {
      if (codePoint > cmap.getUint16(ends + s * 2)) continue;
      const start = cmap.getUint16(starts + s * 2);
      if (codePoint < start) return 0;
      const delta = cmap.getInt16(deltas + s * 2);
      const rangeOffset = cmap.getUint16(rangeOffsets + s * 2);
      if (rangeOffset === 0) return (codePoint + delta) & 0xffff;
      // The offset is relative to where it is stored: the spec's pointer arithmetic into glyphIdArray.
      const glyph = cmap.getUint16(rangeOffsets + s * 2 + rangeOffset + (codePoint - start) * 2);
      return glyph === 0 ? 0 : (glyph + delta) & 0xffff;
    }
    return 0;
  };
}

interface OutlinePoint {
  x: number;
  y: number;
  isOnCurve: boolean;
}

const ON_CURVE = 0x01;
const X_SHORT = 0x02;
const Y_SHORT = 0x04;
const REPEAT = 0x08;
const X_SAME_OR_POSITIVE = 0x10;
const Y_SAME_OR_POSITIVE = 0x20;

// Composite glyph flags (OpenType `glyf` spec).
const ARGS_ARE_WORDS = 0x0001;
const ARGS_ARE_XY_VALUES = 0x0002;
const HAS_SCALE = 0x0008;
const MORE_COMPONENTS = 0x0020;
const HAS_XY_SCALE = 0x0040;
const HAS_TWO_BY_TWO = 0x0080;
/** Composites nest; real fonts stay shallow, a malformed one could loop forever. */
const MAX_COMPOSITE_DEPTH = 8;

function glyphContours(glyf: DataView, offsets: Uint32Array, glyph: number, depth: number): OutlinePoint[][] {
  const start = offsets[glyph] ?? 0;
  const end = offsets[glyph + 1] ?? start;
  if (end <= start || depth > MAX_COMPOSITE_DEPTH) return []; // a space: no outline
  const contourCount = glyf.getInt16(start);
  return contourCount >= 0 ? simpleContours(glyf, start, contourCount) : compositeContours(glyf, offsets, start, depth);
}

function simpleContours(glyf: DataView, start: number, contourCount: number): OutlinePoint[][] {
  const endPoints: number[] = [];
  for (let c = 0; c < contourCount; c++) endPoints.push(glyf.getUint16(start + 10 + c * 2));
  const pointCount = contourCount === 0 ? 0 : endPoints[contourCount - 1]! + 1;
  const instructionLength = glyf.getUint16(start + 10 + contourCount * 2);
  let at = start + 12 + contourCount * 2 + instructionLength;
  const flags: number[] = [];
  while (flags.length < pointCount) {
    const flag = glyf.getUint8(at++);
    flags.push(flag);
    if (flag & REPEAT) {
      const repeats = glyf.getUint8(at++);
      for (let r = 0; r < repeats; r++) flags.push(flag);
    }
  }
  const read = (short: number, sameOrPositive: number) => {
    const values: number[] = [];
    let value = 0;
    for (const flag of flags) {
      if (flag & short) {
        const delta = glyf.getUint8(at++);
        value += flag & sameOrPositive ? delta : -delta;
      } else if (!(flag & sameOrPositive)) {
        value += glyf.getInt16(at);
        at += 2;
      }
      values.push(value);
    }
    return values;
  };
  const xs = read(X_SHORT, X_SAME_OR_POSITIVE);
  const ys = read(Y_SHORT, Y_SAME_OR_POSITIVE);
  const contours: OutlinePoint[][] = [];
  let first = 0;
  for (const last of endPoints) {
    const contour: OutlinePoint[] = [];
    for (let p = first; p <= last; p++) contour.push({ x: xs[p]!, y: ys[p]!, isOnCurve: (flags[p]! & ON_CURVE) !== 0 });
    contours.push(contour);
    first = last + 1;
  }
  return contours;
}

function compositeContours(glyf: DataView, offsets: Uint32Array, start: number, depth: number): OutlinePoint[][] {
  const contours: OutlinePoint[][] = [];
  let at = start + 10;
  let flags: number;
  do {
    flags = glyf.getUint16(at);
    const component = glyf.getUint16(at + 2);
    at += 4;
    let dx = 0;
    let dy = 0;
    if (flags & ARGS_ARE_WORDS) {
      dx = glyf.getInt16(at);
      dy = glyf.getInt16(at + 2);
      at += 4;
    } else {
      dx = glyf.getInt8(at);
      dy = glyf.getInt8(at + 1);
      at += 2;
    }
    // Point-matching placement (args are point numbers) is rare in CJK fonts; it is drawn unshifted.
    if (!(flags & ARGS_ARE_XY_VALUES)) dx = dy = 0;
    let [a, b, c, d] = [1, 0, 0, 1];
    const f2dot14 = (offset: number) => glyf.getInt16(offset) / 16384;
    if (flags & HAS_SCALE) {
      a = d = f2dot14(at);
      at += 2;
    } else if (flags & HAS_XY_SCALE) {
      a = f2dot14(at);
      d = f2dot14(at + 2);
      at += 4;
    } else if (flags & HAS_TWO_BY_TWO) {
      [a, b, c, d] = [f2dot14(at), f2dot14(at + 2), f2dot14(at + 4), f2dot14(at + 6)];
      at += 8;
    }
    for (const contour of glyphContours(glyf, offsets, component, depth + 1)) {
      contours.push(
        contour.map((p) => ({ x: a * p.x + c * p.y + dx, y: b * p.x + d * p.y + dy, isOnCurve: p.isOnCurve })),
      );
    }
  } while (flags & MORE_COMPONENTS);
  return contours;
}

/** Quadratic contours → `M … Q … Z`; two off-curve points in a row imply an on-curve point halfway between them. */
export function contoursToPath(contours: OutlinePoint[][]): string {
  const parts: string[] = [];
  const n = (value: number) => String(Math.round(value * 100) / 100);
  for (const contour of contours) {
    if (contour.length === 0) continue;
    const firstOn = contour.findIndex((p) => p.isOnCurve);
    const points =
      firstOn >= 0
        ? [...contour.slice(firstOn), ...contour.slice(0, firstOn)]
        : [midpoint(contour), ...contour.slice(1), contour[0]!];
    const start = points[0]!;
    parts.push(`M${n(start.x)} ${n(start.y)}`);
    let control: OutlinePoint | null = null;
    for (const point of [...points.slice(1), start]) {
      if (point.isOnCurve) {
        parts.push(
          control ? `Q${n(control.x)} ${n(control.y)} ${n(point.x)} ${n(point.y)}` : `L${n(point.x)} ${n(point.y)}`,
        );
        control = null;
      } else if (control) {
        const implied = { x: (control.x + point.x) / 2, y: (control.y + point.y) / 2 };
        parts.push(`Q${n(control.x)} ${n(control.y)} ${n(implied.x)} ${n(implied.y)}`);
        control = point;
      } else {
        control = point;
      }
    }
    parts.push('Z');
  }
  return parts.join('');
}

/** A contour of off-curve points only starts halfway between its first two. */
function midpoint(contour: OutlinePoint[]): OutlinePoint {
  const [p, q] = [contour[0]!, contour[1] ?? contour[0]!];
  return { x: (p.x + q.x) / 2, y: (p.y + q.y) / 2, isOnCurve: true };
}

function fontError(name: string, problem: string): UsageError {
  return new UsageError(problem, {
    code: 'font_unreadable',
    culprit: name,
    hint: 'reinstall lora-scripts: the title font ships in its `assets/fonts/`',
  });
}
