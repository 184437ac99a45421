// The A/B statistics against GrowthBook's stats engine (gbstats), plus the simulation figures and the ingest rate.
// `node_modules/.bin/tsx bench/ab-stats.ts [--python /tmp/gbstats-venv/bin/python]` — needs gbstats in that Python
// (python3 -m venv /tmp/gbstats-venv && /tmp/gbstats-venv/bin/pip install gbstats); the tests never run this.
// Compared per case: the fixed-horizon difference and lift (ours: z; gbstats: Welch t, so tiny arms differ a little),
// the always-valid confidence sequence on both scales (same method: must agree to rounding), and the SRM p-value.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  binomial,
  confidenceSequence,
  type ExperimentEvent,
  openSqliteExperimentStore,
  relativeLift,
  sampleRatioCheck,
  seededRandom,
  twoProportionTest,
  usersForLift,
} from '../src/experiments/index.js';

const ROOT = resolve(import.meta.dirname, '..');
const { values: args } = parseArgs({
  options: {
    python: { type: 'string', default: '/tmp/gbstats-venv/bin/python' },
    events: { type: 'string', default: '200000' },
  },
});

interface Case {
  a: { users: number; clicks: number };
  b: { users: number; clicks: number };
  tuning: number;
}

function makeCases(): Case[] {
  const random = seededRandom(2026);
  const cases: Case[] = [
    { a: { users: 50_000, clicks: 2500 }, b: { users: 50_000, clicks: 3075 }, tuning: 5000 },
    { a: { users: 50_000, clicks: 2500 }, b: { users: 50_000, clicks: 2650 }, tuning: 5000 },
  ];
  for (let i = 0; i < 300; i++) {
    const users = Math.round(10 ** (2 + random() * 4)); // 100 … 1,000,000 per arm
    const ctr = 0.005 + random() * 0.2;
    const lift = (random() - 0.3) * 0.5;
    const aUsers = users;
    const bUsers = Math.round(users * (0.9 + random() * 0.2));
    cases.push({
      a: { users: aUsers, clicks: Math.max(1, binomial(random, aUsers, ctr)) },
      b: { users: bUsers, clicks: Math.max(1, binomial(random, bUsers, Math.min(0.99, ctr * (1 + lift)))) },
      tuning: [5000, 20_000, 200_000][i % 3]!,
    });
  }
  return cases;
}

function ours(c: Case) {
  const fixed = twoProportionTest(c.a, c.b);
  const lift = relativeLift(c.a, c.b)!;
  const total = c.a.users + c.b.users;
  const seqAbs = confidenceSequence(
    { estimate: fixed.difference, standardError: fixed.standardError, totalUsers: total },
    0.05,
    c.tuning,
  );
  const seqRel = confidenceSequence(
    { estimate: lift.lift, standardError: lift.standardError, totalUsers: total },
    0.05,
    c.tuning,
  );
  return {
    fixed_absolute: { estimate: fixed.difference, ci: fixed.interval, p: fixed.pValue },
    fixed_relative: { estimate: lift.lift, ci: lift.interval, p: fixed.pValue },
    sequential_absolute: { estimate: fixed.difference, ci: seqAbs.interval, p: seqAbs.pValue },
    sequential_relative: { estimate: lift.lift, ci: seqRel.interval, p: seqRel.pValue },
    srm_p: sampleRatioCheck([c.a.users, c.b.users], [1, 1]).pValue,
  };
}

type Numbers = ReturnType<typeof ours>;

function compare(cases: Case[]) {
  const run = spawnSync(args.python, [join(ROOT, 'bench', 'ab-stats-gbstats.py')], {
    input: JSON.stringify(cases),
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.status !== 0) throw new Error(`gbstats failed (is it installed in ${args.python}?): ${run.stderr}`);
  const { gbstats, results } = JSON.parse(run.stdout) as { gbstats: string; results: Numbers[] };
  const worst = new Map<string, { abs: number; rel: number }>();
  const note = (name: string, mine: number, theirs: number) => {
    const abs = Math.abs(mine - theirs);
    const rel = abs / Math.max(Math.abs(theirs), 1e-300);
    const before = worst.get(name) ?? { abs: 0, rel: 0 };
    worst.set(name, { abs: Math.max(before.abs, abs), rel: Math.max(before.rel, abs === 0 ? 0 : rel) });
  };
  const largeOnly = new Map<string, { abs: number; rel: number }>();
  cases.forEach((c, i) => {
    const mine = ours(c);
    const theirs = results[i]!;
    const isLarge = Math.min(c.a.users, c.b.users) >= 10_000;
    for (const key of ['fixed_absolute', 'fixed_relative', 'sequential_absolute', 'sequential_relative'] as const) {
      note(`${key} estimate`, mine[key].estimate, theirs[key].estimate);
      note(`${key} ci low`, mine[key].ci[0], theirs[key].ci[0]);
      note(`${key} ci high`, mine[key].ci[1], theirs[key].ci[1]);
      if (key.startsWith('sequential')) note(`${key} p`, mine[key].p, theirs[key].p);
      // gbstats' fixed p is 2·(1 − t.cdf): below ~1e-10 it has no digits left to compare
      if (key === 'fixed_absolute' && theirs[key].p > 1e-10)
        note(`${key} p (where > 1e-10)`, mine[key].p, theirs[key].p);
      if (isLarge && key.startsWith('fixed')) {
        const before = largeOnly.get(key) ?? { abs: 0, rel: 0 };
        const abs = Math.max(
          Math.abs(mine[key].ci[0] - theirs[key].ci[0]),
          Math.abs(mine[key].ci[1] - theirs[key].ci[1]),
        );
        largeOnly.set(key, { abs: Math.max(before.abs, abs), rel: 0 });
      }
    }
    note('srm p', mine.srm_p, theirs.srm_p);
  });
  console.log(
    `## Ours vs GrowthBook gbstats ${gbstats}: ${cases.length} cases (100 … 1,000,000 users per arm, CTR 0.5–20 %)\n`,
  );
  console.log('| quantity | max abs difference | max relative difference |');
  console.log('|---|---|---|');
  for (const [name, { abs, rel }] of worst)
    console.log(`| ${name} | ${abs.toExponential(2)} | ${rel.toExponential(2)} |`);
  console.log('\nFixed-horizon intervals where both arms have ≥ 10,000 users (z vs Welch t converge):');
  for (const [name, { abs }] of largeOnly)
    console.log(`- ${name}: max abs difference of the bounds ${abs.toExponential(2)}`);
  const [first] = results;
  console.log(
    `\nWorked example (2,500/50,000 vs 3,075/50,000, N* 5000): gbstats sequential relative CI [${first!.sequential_relative.ci.map((x) => x.toFixed(6)).join(', ')}], ours [${ours(
      cases[0]!,
    )
      .sequential_relative.ci.map((x) => x.toFixed(6))
      .join(', ')}]`,
  );
}

function simulations() {
  const random = seededRandom(17);
  const runs = 2000;
  let fixedDaily = 0;
  let sequentialDaily = 0;
  let fixedOnce = 0;
  for (let r = 0; r < runs; r++) {
    const a = { users: 0, clicks: 0 };
    const b = { users: 0, clicks: 0 };
    let fixedHit = false;
    let seqHit = false;
    for (let day = 1; day <= 30; day++) {
      for (const arm of [a, b]) {
        arm.users += 200;
        arm.clicks += binomial(random, 200, 0.05);
      }
      const test = twoProportionTest(a, b);
      if (test.pValue < 0.05) fixedHit = true;
      const look = { estimate: test.difference, standardError: test.standardError, totalUsers: a.users + b.users };
      if (confidenceSequence(look, 0.05, 12_000).pValue < 0.05) seqHit = true;
      if (day === 30 && test.pValue < 0.05) fixedOnce++;
    }
    if (fixedHit) fixedDaily++;
    if (seqHit) sequentialDaily++;
  }
  const n = usersForLift({ baselineRate: 0.05, relativeLift: 0.23, alpha: 0.05, power: 0.8 }).control;
  let detected = 0;
  for (let r = 0; r < runs; r++) {
    const t = twoProportionTest(
      { users: n, clicks: binomial(random, n, 0.05) },
      { users: n, clicks: binomial(random, n, 0.0615) },
    );
    if (t.pValue < 0.05 && t.difference > 0) detected++;
  }
  const rate = (k: number) => `${((100 * k) / runs).toFixed(1)} %`;
  console.log(`\n## Simulation (${runs} seeded experiments each)\n`);
  console.log(
    `- A/A, 5 % CTR, 200 users per arm per day, 30 daily looks: fixed test at the end ${rate(fixedOnce)}; fixed test checked daily ${rate(fixedDaily)}; sequential test checked daily ${rate(sequentialDaily)}`,
  );
  console.log(
    `- 5 % → 6.15 % (+23 %), planner's ${n} users per arm (80 % power): fixed test detects it in ${rate(detected)}`,
  );
}

async function ingestRate() {
  const dir = mkdtempSync(join(tmpdir(), 'ab-ingest-'));
  try {
    const store = openSqliteExperimentStore(join(dir, 'studio.db'));
    await store.createExperiment({
      id: 'bench',
      arms: [
        { name: 'a', weight: 1 },
        { name: 'b', weight: 1 },
      ],
    });
    const total = Number(args.events);
    const events: ExperimentEvent[] = [];
    for (let i = 0; i < total; i++) {
      const user = `u${Math.floor(i / 2)}`;
      const at = `2026-12-${String(1 + (i % 28)).padStart(2, '0')}T08:00:00Z`;
      events.push(
        i % 2 === 0
          ? { type: 'exposure', event_id: `e${i}`, user_id: user, at }
          : { type: 'click', event_id: `e${i}`, user_id: user, at },
      );
    }
    const started = process.hrtime.bigint();
    for (let i = 0; i < total; i += 10_000) await store.ingestEvents('bench', events.slice(i, i + 10_000));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const repeatStart = process.hrtime.bigint();
    for (let i = 0; i < total; i += 10_000) await store.ingestEvents('bench', events.slice(i, i + 10_000));
    const repeatSeconds = Number(process.hrtime.bigint() - repeatStart) / 1e9;
    const reportStart = process.hrtime.bigint();
    await store.dailyCounts('bench');
    const countSeconds = Number(process.hrtime.bigint() - reportStart) / 1e9;
    await store.close();
    console.log(`\n## Ingest into the embedded store (SQLite, batches of 10,000, half exposures half clicks)\n`);
    console.log(`- ${total} new events: ${seconds.toFixed(2)} s = ${Math.round(total / seconds)} events/s`);
    console.log(
      `- the same ${total} again (all duplicates): ${repeatSeconds.toFixed(2)} s = ${Math.round(total / repeatSeconds)} events/s`,
    );
    console.log(`- daily counts of ${total / 2} users: ${(countSeconds * 1000).toFixed(0)} ms`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

compare(makeCases());
simulations();
await ingestRate();
