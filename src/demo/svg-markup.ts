// Small SVG string builders shared by the scene parts: fixed-precision numbers and colour shading.

/** Two decimals: keeps SVG text short and identical across machines. */
export function num(value: number): string {
  return String(Math.round(value * 100) / 100);
}

/** `<tag a="1" b="x"/>`; numbers are rounded by `num`. */
export function el(tag: string, attrs: Record<string, string | number>): string {
  const text = Object.entries(attrs)
    .map(([key, value]) => `${key}="${typeof value === 'number' ? num(value) : value}"`)
    .join(' ');
  return `<${tag} ${text}/>`;
}

/** A group tagged with what it depicts, so tests can count drawn houses, bridges and boats in the SVG itself. */
export function group(kind: string, parts: readonly string[]): string {
  return `<g class="${kind}">${parts.join('')}</g>`;
}

/** `#rrggbb` moved towards white (amount > 0) or black (amount < 0), amount in [-1, 1]. */
export function shade(hex: string, amount: number): string {
  const target = amount >= 0 ? 255 : 0;
  const t = Math.min(1, Math.abs(amount));
  const channels = [1, 3, 5].map((i) => {
    const value = parseInt(hex.slice(i, i + 2), 16);
    return Math.round(value + (target - value) * t);
  });
  return `#${channels.map((c) => c.toString(16).padStart(2, '0')).join('')}`;
}

/** `M x y L x y …` from a flat list of points. */
export function polyline(points: readonly (readonly [number, number])[]): string {
  return points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${num(x)} ${num(y)}`).join(' ');
}
