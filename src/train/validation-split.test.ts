import { describe, expect, it } from 'vitest';
import { splitForValidation } from './validation-split.js';

const items = Array.from({ length: 40 }, (_, i) => ({ relPath: `img_${String(i).padStart(2, '0')}.png` }));

describe('splitForValidation', () => {
  it('holds out the share asked for, disjoint from training, the same for the same seed', () => {
    const split = splitForValidation(items, 0.1, 42);
    expect(split.validation).toHaveLength(4);
    expect(split.training).toHaveLength(36);
    expect(split.training.some((item) => split.validation.includes(item))).toBe(false);
    expect(splitForValidation(items, 0.1, 42).validation).toEqual(split.validation);
    expect(splitForValidation(items, 0.1, 7).validation).not.toEqual(split.validation);
  });

  it('does not depend on the folder order', () => {
    expect(
      splitForValidation([...items].reverse(), 0.1, 42)
        .validation.map((i) => i.relPath)
        .sort(),
    ).toEqual(
      splitForValidation(items, 0.1, 42)
        .validation.map((i) => i.relPath)
        .sort(),
    );
  });

  it('holds out at least one picture and never all of them', () => {
    expect(splitForValidation(items.slice(0, 3), 0.1, 1).validation).toHaveLength(1);
    expect(splitForValidation(items.slice(0, 2), 0.5, 1).training).toHaveLength(1);
    expect(splitForValidation(items, 0, 1).validation).toEqual([]);
  });
});
