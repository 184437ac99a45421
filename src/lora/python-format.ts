// Python's str() and json.dumps() spellings, because kohya metadata is read by tools that compare those strings. Pure.

/** Marks a number that Python would hold as a float, so JSON writes `0.0` rather than `0`. */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** A value json.dumps can write. Plain numbers are Python ints and must be integers. */
export type PyJson =
  | null
  | boolean
  | number
  | string
  | PyFloat
  | readonly PyJson[]
  | ReadonlyMap<string, PyJson>
  | { readonly [key: string]: PyJson };

/**
 * `str(float)` / `repr(float)` in Python 3: the shortest digits that round-trip (the same digits JS picks), in
 * fixed notation for decimal exponents −4…15 and scientific otherwise: 1e-4 → `0.0001`, 1e-5 → `1e-05`,
 * 1 → `1.0`, 1e16 → `1e+16`.
 */
export function pythonFloatString(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  const { digits, exponent } = shortestDigits(Math.abs(x));
  if (exponent < -4 || exponent >= 16) {
    const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${mantissa}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
  const whole = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
  return `${sign}${whole}.${digits.slice(exponent + 1) || '0'}`;
}

/** Digits `d1 d2 …` and exponent `e` with x = d1.d2… × 10^e, taken from JS's own shortest round-trip string. */
function shortestDigits(x: number): { digits: string; exponent: number } {
  const [mantissa = '', exp = '0'] = String(x).split('e');
  const [whole = '', fraction = ''] = mantissa.split('.');
  const all = whole + fraction;
  const leadingZeros = all.length - all.replace(/^0+/, '').length;
  return {
    digits: all.slice(leadingZeros).replace(/0+$/, ''),
    exponent: whole.length - 1 - leadingZeros + Number(exp),
  };
}

/** `str(int)`; refuses a non-integer so a float never slips out formatted as an int. */
export function pythonIntString(n: number): string {
  if (!Number.isInteger(n)) throw new TypeError(`${n} is not an integer`);
  return BigInt(n).toString();
}

/** `str(tuple_of_ints)`: `(512, 512)`, `(512,)`. */
export function pythonTupleString(values: readonly number[]): string {
  const items = values.map(pythonIntString);
  return items.length === 1 ? `(${items[0]},)` : `(${items.join(', ')})`;
}

/** `str(True)` / `str(False)`. */
export const pythonBoolString = (value: boolean): string => (value ? 'True' : 'False');

/**
 * `json.dumps(value)` with Python's defaults: `", "` and `": "` separators, every non-ASCII character escaped
 * (`ensure_ascii=True`), floats as repr, NaN/Infinity unquoted.
 */
export function pythonJsonDumps(value: PyJson): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return pythonIntString(value);
  if (typeof value === 'string') return pythonJsonString(value);
  if (value instanceof PyFloat) return jsonFloat(value.value);
  if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(', ')}]`;
  const entries = value instanceof Map ? [...value] : Object.entries(value);
  return `{${entries.map(([key, item]) => `${pythonJsonString(key)}: ${pythonJsonDumps(item)}`).join(', ')}}`;
}

function jsonFloat(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  return pythonFloatString(x);
}

const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
};

function pythonJsonString(text: string): string {
  // Python escapes everything outside printable ASCII (space…~), per UTF-16 unit, so emoji become surrogate pairs.
  const escaped = text.replace(
    /["\\]|[^ -~]/g,
    (char) => SHORT_ESCAPES[char] ?? `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return `"${escaped}"`;
}
