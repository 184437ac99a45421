// End to end: synthetic users with a known CTR per arm, assigned by the experiment's hash, sent as events into the
// real SQLite store, then analysed — the path a content system's traffic takes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { analyseExperiment } from './analysis.js';
import { experimentReportSchema } from './report.js';
import { seededRandom, simulateTraffic, type TrafficPlan } from './simulate.js';
import { openSqliteExperimentStore } from './sqlite-store.js';
import { assignArm, type ExperimentStore } from './store.js';

let dir: string;
let store: ExperimentStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lora-traffic-'));
  store = openSqliteExperimentStore(join(dir, 'studio.db'));
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function replay(id: string, seed: number, plan: TrafficPlan) {
  const experiment = (await store.getExperiment(id))!;
  let accepted = 0;
  for (const batch of simulateTraffic(seededRandom(seed), (user) => assignArm(experiment, user).arm, plan)) {
    accepted += (await store.ingestEvents(id, batch)).accepted;
  }
  return accepted;
}

const ARMS = [
  { name: 'generic', weight: 1 },
  { name: 'regional', weight: 1 },
];

describe('simulated traffic through the store', () => {
  it('a true +23 % lift on 5 %: the report ships the regional cover, SRM passes, and a replay changes nothing', async () => {
    await store.createExperiment({ id: 'lift', arms: ARMS, baseline_ctr: 0.05, min_detectable_lift: 0.23 });
    const plan = { days: 14, usersPerDay: 1000, ctrByArm: { generic: 0.05, regional: 0.0615 } };
    const accepted = await replay('lift', 3, plan);
    const counts = await store.dailyCounts('lift');
    expect(await replay('lift', 3, plan)).toBe(0);
    expect(await store.dailyCounts('lift')).toEqual(counts);
    const experiment = (await store.getExperiment('lift'))!;
    const report = experimentReportSchema.parse(analyseExperiment(experiment, counts));
    expect(report.overall.arms.reduce((sum, arm) => sum + arm.users + arm.clicks, 0)).toBe(accepted);
    expect(report.overall.days).toBe(14);
    expect(report.overall.srm.mismatch).toBe(false);
    expect(report.overall.verdict).toMatchObject({ decision: 'ship', arm: 'regional' });
  });

  it('no true difference, three regions: nothing is shipped anywhere', async () => {
    await store.createExperiment({ id: 'same', arms: ARMS });
    const plan = {
      days: 10,
      usersPerDay: 900,
      ctrByArm: { generic: 0.05, regional: 0.05 },
      segments: ['jiangsu', 'sichuan', 'zhejiang'],
    };
    await replay('same', 4, plan);
    const report = analyseExperiment((await store.getExperiment('same'))!, await store.dailyCounts('same'));
    expect(report.segments.map((segment) => segment.segment)).toEqual(['jiangsu', 'sichuan', 'zhejiang']);
    for (const scope of [report.overall, ...report.segments]) {
      expect(scope.verdict.decision).toBe('keep_running');
      expect(scope.srm.mismatch).toBe(false);
    }
  });
});
