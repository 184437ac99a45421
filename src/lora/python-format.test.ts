// Expected strings are what Python 3.11 printed for the same values (repr, json.dumps, str of a tuple).
import { describe, expect, it } from 'vitest';
import { PyFloat, pythonFloatString, pythonIntString, pythonJsonDumps, pythonTupleString } from './python-format.js';

describe('pythonFloatString', () => {
  it.each([
    [1e-4, '0.0001'],
    [1e-5, '1e-05'],
    [2e-4, '0.0002'],
    [3e-4, '0.0003'],
    [1, '1.0'],
    [100, '100.0'],
    [0.5, '0.5'],
    [-2.5, '-2.5'],
    [1e16, '1e+16'],
    [1e15, '1000000000000000.0'],
    [1e22, '1e+22'],
    [0.1 + 0.2, '0.30000000000000004'],
    [0, '0.0'],
    [-0, '-0.0'],
    [123.456, '123.456'],
    [1.5e-5, '1.5e-05'],
    [1e-7, '1e-07'],
    [0.00012345, '0.00012345'],
    [1717171717.123456, '1717171717.123456'],
    [1717171717, '1717171717.0'],
    [9007199254740992, '9007199254740992.0'],
    [12345678901234568, '1.2345678901234568e+16'],
    [123456789012345680, '1.2345678901234568e+17'],
    [5e-324, '5e-324'],
    [1.7976931348623157e308, '1.7976931348623157e+308'],
    [NaN, 'nan'],
    [Infinity, 'inf'],
    [-Infinity, '-inf'],
  ])('%d → %s', (value, python) => {
    expect(pythonFloatString(value)).toBe(python);
  });
});

describe('pythonIntString and pythonTupleString', () => {
  it('writes ints and tuples of ints as Python does, and refuses fractions', () => {
    expect(pythonIntString(16)).toBe('16');
    expect(pythonIntString(2 ** 53)).toBe('9007199254740992');
    expect(pythonTupleString([512, 768])).toBe('(512, 768)');
    expect(pythonTupleString([512])).toBe('(512,)');
    expect(() => pythonIntString(1.5)).toThrow('1.5 is not an integer');
  });
});

describe('pythonJsonDumps', () => {
  it('matches json.dumps: separators, ensure_ascii escapes, floats, null and booleans', () => {
    const value = new Map<string, PyFloat | number | null | boolean | number[] | Map<string, number>>([
      [
        '10_jiangnan',
        new Map([
          ['江南', 3],
          ['1girl', 2],
          ['a"b\\c\n\x7f\x01', 1],
          ['😀', 1],
        ]),
      ],
      ['x', [512, 512]],
      ['f', new PyFloat(0)],
      ['g', new PyFloat(1e-5)],
      ['n', null],
      ['t', true],
    ]);
    expect(pythonJsonDumps(value)).toBe(
      '{"10_jiangnan": {"\\u6c5f\\u5357": 3, "1girl": 2, "a\\"b\\\\c\\n\\u007f\\u0001": 1, "\\ud83d\\ude00": 1}, "x": [512, 512], "f": 0.0, "g": 1e-05, "n": null, "t": true}',
    );
  });

  it('writes empty containers and non-finite floats the Python way', () => {
    expect(pythonJsonDumps({})).toBe('{}');
    expect(pythonJsonDumps([])).toBe('[]');
    expect(pythonJsonDumps([new PyFloat(NaN), new PyFloat(-Infinity)])).toBe('[NaN, -Infinity]');
  });
});
