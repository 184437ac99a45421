// Tree drawers: willows for canals, banyans for lingnan streets, snowy pines and bare trees, palms, plain round trees.
import type { Rng } from './seeded-random.js';
import type { Palette, TreeKind } from './styles.js';
import { el, group, num, shade } from './svg-markup.js';

/** A tree standing at (x, base), about `height` tall. */
export interface TreeSpot {
  x: number;
  base: number;
  height: number;
}

type TreeDrawer = (spot: TreeSpot, rng: Rng, palette: Palette) => string[];

const stroke = (d: string, colour: string, width: number, extra = ''): string =>
  `<path d="${d}" fill="none" stroke="${colour}" stroke-width="${num(width)}" stroke-linecap="round"${extra}/>`;

/** Long strands hanging from a leaning trunk. */
const willow: TreeDrawer = ({ x, base, height }, rng, p) => {
  const lean = rng.range(-2.5, 2.5);
  const topX = x + lean;
  const topY = base - height;
  const leaf = rng.pick(p.leaves);
  const parts = [
    stroke(
      `M${num(x)} ${num(base)} Q${num(x - lean * 0.3)} ${num(base - height * 0.4)} ${num(topX)} ${num(topY + height * 0.35)}`,
      p.trunk,
      1.2,
    ),
  ];
  parts.push(
    el('ellipse', {
      cx: topX,
      cy: topY + height * 0.3,
      rx: height * 0.32,
      ry: height * 0.28,
      fill: leaf,
      opacity: 0.45,
    }),
  );
  for (let i = 0; i < 11; i++) {
    const sx = topX + (i / 10 - 0.5) * height * 0.6;
    const sy = topY + Math.abs(i / 10 - 0.5) * height * 0.35;
    const drop = height * rng.range(0.45, 0.75);
    parts.push(
      stroke(
        `M${num(sx)} ${num(sy)} Q${num(sx + (i / 10 - 0.5) * 3)} ${num(sy + drop * 0.3)} ${num(sx + (i / 10 - 0.5) * 2.5)} ${num(sy + drop)}`,
        shade(leaf, rng.range(-0.15, 0.15)),
        0.55,
      ),
    );
  }
  return parts;
};

/** A broad crown of clustered leaves with aerial roots hanging from the branches. */
const banyan: TreeDrawer = ({ x, base, height }, rng, p) => {
  const crownY = base - height * 0.7;
  const spread = height * 0.45;
  const parts = [
    `<path d="M${num(x - 2.2)} ${num(base)} Q${num(x - 1)} ${num(base - height * 0.3)} ${num(x - 0.8)} ${num(crownY)} L${num(x + 0.8)} ${num(crownY)} Q${num(x + 1)} ${num(base - height * 0.3)} ${num(x + 2.2)} ${num(base)} Z" fill="${p.trunk}"/>`,
  ];
  for (let i = 0; i < 9; i++) {
    parts.push(
      el('circle', {
        cx: x + rng.range(-spread, spread),
        cy: crownY + rng.range(-height * 0.28, height * 0.08),
        r: rng.range(height * 0.18, height * 0.28),
        fill: rng.pick(p.leaves),
      }),
    );
  }
  for (let i = 0; i < 5; i++) {
    const rx = x + rng.range(-spread * 0.8, spread * 0.8);
    parts.push(
      stroke(
        `M${num(rx)} ${num(crownY + 2)} L${num(rx + rng.range(-0.5, 0.5))} ${num(crownY + rng.range(5, height * 0.6))}`,
        shade(p.trunk, 0.1),
        0.35,
      ),
    );
  }
  return parts;
};

/** Dark tiers, each carrying snow on its upper slope. */
const pine: TreeDrawer = ({ x, base, height }, rng, p) => {
  const leaf = rng.pick(p.leaves);
  const parts = [el('rect', { x: x - 0.7, y: base - height * 0.25, width: 1.4, height: height * 0.25, fill: p.trunk })];
  for (let tier = 0; tier < 3; tier++) {
    const bottom = base - height * (0.18 + tier * 0.24);
    const half = height * (0.3 - tier * 0.07);
    const tip = bottom - height * 0.38;
    parts.push(
      el('polygon', {
        points: `${num(x - half)},${num(bottom)} ${num(x)},${num(tip)} ${num(x + half)},${num(bottom)}`,
        fill: leaf,
      }),
    );
    parts.push(
      el('polygon', {
        points: `${num(x - half * 0.6)},${num(bottom - height * 0.12)} ${num(x)},${num(tip)} ${num(x + half * 0.6)},${num(bottom - height * 0.12)}`,
        fill: '#f7f9fc',
      }),
    );
  }
  return parts;
};

/** Winter tree: forked dark branches with a line of snow along each. */
const bare: TreeDrawer = ({ x, base, height }, rng, p) => {
  const forkY = base - height * 0.45;
  const parts = [stroke(`M${num(x)} ${num(base)} L${num(x)} ${num(forkY)}`, p.trunk, 1.3)];
  for (let i = 0; i < 5; i++) {
    const angle = -Math.PI / 2 + (i - 2) * 0.42 + rng.range(-0.1, 0.1);
    const len = height * rng.range(0.4, 0.58);
    const ex = x + Math.cos(angle) * len;
    const ey = forkY + Math.sin(angle) * len;
    parts.push(stroke(`M${num(x)} ${num(forkY)} L${num(ex)} ${num(ey)}`, p.trunk, 0.7));
    parts.push(stroke(`M${num(x)} ${num(forkY - 0.5)} L${num(ex)} ${num(ey - 0.4)}`, '#f7f9fc', 0.35));
  }
  return parts;
};

/** Curved trunk and drooping fronds radiating from the crown. */
const palm: TreeDrawer = ({ x, base, height }, rng, p) => {
  const lean = rng.range(-4, 4);
  const topX = x + lean;
  const topY = base - height;
  const leaf = rng.pick(p.leaves);
  const parts = [
    stroke(
      `M${num(x)} ${num(base)} Q${num(x + lean * 0.1)} ${num(base - height * 0.6)} ${num(topX)} ${num(topY)}`,
      p.trunk,
      1.3,
    ),
  ];
  for (let i = 0; i < 7; i++) {
    const dir = (i / 6 - 0.5) * 2;
    const reach = height * rng.range(0.4, 0.55);
    const ex = topX + dir * reach;
    const ey = topY + reach * (0.25 + Math.abs(dir) * 0.35);
    parts.push(
      stroke(
        `M${num(topX)} ${num(topY)} Q${num(topX + dir * reach * 0.5)} ${num(topY - 3)} ${num(ex)} ${num(ey)}`,
        shade(leaf, rng.range(-0.1, 0.1)),
        1.1,
      ),
    );
  }
  parts.push(el('circle', { cx: topX, cy: topY + 0.6, r: 0.9, fill: '#6b4a22' }));
  return parts;
};

const round: TreeDrawer = ({ x, base, height }, rng, p) => {
  const r = height * 0.3;
  return [
    el('rect', { x: x - 0.7, y: base - height * 0.45, width: 1.4, height: height * 0.45, fill: p.trunk }),
    el('circle', { cx: x, cy: base - height + r, r, fill: rng.pick(p.leaves) }),
    el('circle', { cx: x + r * 0.4, cy: base - height + r * 1.4, r: r * 0.7, fill: rng.pick(p.leaves) }),
  ];
};

const TREE_DRAWERS: Record<TreeKind, TreeDrawer> = { willow, banyan, pine, bare, palm, round };

export function drawTree(kind: TreeKind, spot: TreeSpot, rng: Rng, palette: Palette): string {
  return group('tree', TREE_DRAWERS[kind](spot, rng, palette));
}
