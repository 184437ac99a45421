// Synthetic traffic with a known CTR per arm, seeded so every run is the same: the tests' simulations, the bench and
// the traffic simulator draw from here.
import type { DailyCount, ExperimentEvent } from './model.js';

/** A seeded uniform generator on [0, 1) (sfc32: small, fast, passes PractRand far beyond what a test draws). */
export function seededRandom(seed: number): () => number {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
  for (let i = 0; i < 15; i++) next();
  return next;
}

/**
 * An exact Binomial(n, p) draw by geometric waiting times: about n·min(p, 1 − p) + 1 uniforms, so a day of 10,000
 * users at a 5 % CTR costs ~500 draws, not 10,000.
 */
export function binomial(random: () => number, n: number, p: number): number {
  if (n <= 0 || p <= 0) return 0;
  if (p >= 1) return n;
  if (p > 0.5) return n - binomial(random, n, 1 - p);
  const logQ = Math.log1p(-p);
  let successes = 0;
  let position = 0;
  for (;;) {
    position += Math.floor(Math.log(1 - random()) / logQ) + 1;
    if (position > n) return successes;
    successes++;
  }
}

export interface SimulatedArm {
  name: string;
  weight: number;
  /** The true click-through rate of a user shown this arm. */
  ctr: number;
}

export interface SimulationPlan {
  arms: readonly SimulatedArm[];
  days: number;
  usersPerDay: number;
  segment?: string | null;
  /** The first day, YYYY-MM-DD (default 2026-12-01). */
  start?: string;
}

/** Daily counts of one simulated experiment: users split by weight (multinomially), each clicks with its arm's CTR. */
export function simulateDailyCounts(random: () => number, plan: SimulationPlan): DailyCount[] {
  const start = Date.parse(`${plan.start ?? '2026-12-01'}T00:00:00Z`);
  const totalWeight = plan.arms.reduce((sum, arm) => sum + arm.weight, 0);
  const rows: DailyCount[] = [];
  for (let day = 0; day < plan.days; day++) {
    const date = new Date(start + day * 86_400_000).toISOString().slice(0, 10);
    let left = plan.usersPerDay;
    let weightLeft = totalWeight;
    for (const arm of plan.arms) {
      const users = arm === plan.arms.at(-1) ? left : binomial(random, left, arm.weight / weightLeft);
      left -= users;
      weightLeft -= arm.weight;
      rows.push({
        day: date,
        segment: plan.segment ?? null,
        arm: arm.name,
        users,
        clicks: binomial(random, users, arm.ctr),
      });
    }
  }
  return rows;
}

export interface TrafficPlan {
  days: number;
  usersPerDay: number;
  /** The true CTR of each arm, by name. */
  ctrByArm: Readonly<Record<string, number>>;
  /** Users are spread evenly over these segments (regions); none: not split. */
  segments?: readonly string[];
  /** The first day, YYYY-MM-DD (default 2026-12-01). */
  start?: string;
  /** Prefix of the synthetic user ids (a second replay with another prefix adds new users). */
  userPrefix?: string;
}

/**
 * Synthetic users replayed as events, one day at a time: each new user is assigned by `assign` (the experiment's
 * hash), gets an exposure, and clicks with their arm's true CTR a few minutes later. The event ids derive from the
 * user ids, so replaying the same plan twice sends the same events (and stores nothing new).
 */
export function* simulateTraffic(
  random: () => number,
  assign: (userId: string) => string,
  plan: TrafficPlan,
): Generator<ExperimentEvent[]> {
  const start = Date.parse(`${plan.start ?? '2026-12-01'}T00:00:00Z`);
  const prefix = plan.userPrefix ?? 'sim';
  for (let day = 0; day < plan.days; day++) {
    const events: ExperimentEvent[] = [];
    for (let i = 0; i < plan.usersPerDay; i++) {
      const userId = `${prefix}-${day}-${i}`;
      const arm = assign(userId);
      const at = new Date(start + day * 86_400_000 + Math.floor((i / plan.usersPerDay) * 86_000_000));
      const segment = plan.segments?.length ? plan.segments[i % plan.segments.length] : undefined;
      events.push({
        type: 'exposure',
        event_id: `${userId}:exposure`,
        user_id: userId,
        at: at.toISOString(),
        arm,
        ...(segment ? { segment } : {}),
      });
      if (random() < (plan.ctrByArm[arm] ?? 0)) {
        const clickAt = new Date(at.getTime() + 60_000).toISOString();
        events.push({ type: 'click', event_id: `${userId}:click`, user_id: userId, at: clickAt });
      }
    }
    yield events;
  }
}
