// How messages name many images: the first few, then a count, so one line says what to fix and how much. Pure.

/** `a.png, b.png, c.png, +4 more` */
export function namedFew(names: readonly string[], shown = 5): string {
  return names.slice(0, shown).join(', ') + (names.length > shown ? `, +${names.length - shown} more` : '');
}
