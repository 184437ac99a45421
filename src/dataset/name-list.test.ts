import { describe, expect, it } from 'vitest';
import { namedFew } from './name-list.js';

describe('namedFew', () => {
  it('names the first few, then counts the rest', () => {
    expect(namedFew(['a.png', 'b.png'])).toBe('a.png, b.png');
    expect(namedFew(['a', 'b', 'c', 'd', 'e', 'f', 'g'], 3)).toBe('a, b, c, +4 more');
  });
});
