// The training page's state folded from events: progress points, the samples grid, checkpoints, findings, status.
import { describe, expect, it } from 'vitest';
import type { Job, JobEvent } from '../api/types.js';
import { applyEvent, applyJobSnapshot, chartColumns, emptyTrainingView, itemsPerSecond } from './view-state.js';

const at = '2026-01-01T00:00:00Z';
const progress = (seq: number, step: number, loss: number): JobEvent => ({
  seq,
  at,
  type: 'progress',
  step,
  total_steps: 10,
  epoch: 1,
  loss,
  loss_smoothed: loss / 2,
  lr: 1e-4,
  step_ms: 500,
  eta_s: 5,
});

const fold = (events: JobEvent[]) => events.reduce(applyEvent, emptyTrainingView());

describe('applyEvent', () => {
  it('keeps one point per step in order, and ignores an event seen before (stream replay)', () => {
    const view = fold([progress(1, 1, 0.5), progress(2, 2, 0.4), progress(2, 2, 9), progress(3, 1, 0.45)]);
    expect(view.points.map((p) => [p.step, p.loss])).toEqual([
      [1, 0.45],
      [2, 0.4],
    ]);
    expect(view.lastSeq).toBe(3);
    expect(chartColumns(view.points)).toEqual([
      [1, 2],
      [0.45, 0.4],
      [0.225, 0.2],
      [1e-4, 1e-4],
      [null, null],
    ]);
    expect(itemsPerSecond(view.stepMs)).toBe(2);
  });

  it('builds the samples grid prompt × step as samples arrive', () => {
    const view = fold([
      { seq: 1, at, type: 'sample', step: 4, prompt: 'a cat', path: 'out/s4-0.png' },
      { seq: 2, at, type: 'sample', step: 4, prompt: 'a dog', path: 'out/s4-1.png' },
      { seq: 3, at, type: 'sample', step: 2, prompt: 'a cat', path: 'out/s2-0.png' },
    ]);
    expect(view.samples.prompts).toEqual(['a cat', 'a dog']);
    expect(view.samples.steps).toEqual([2, 4]);
    expect(view.samples.images['a cat']).toEqual({ 2: 'out/s2-0.png', 4: 'out/s4-0.png' });
  });

  it('lists checkpoints by step, findings, warnings, and the final status with its error', () => {
    const view = fold([
      { seq: 1, at, type: 'checkpoint', step: 5, path: 'out/a-5.safetensors', is_final: false },
      { seq: 2, at, type: 'checkpoint', step: 2, path: 'out/a-2.safetensors', is_final: false },
      { seq: 3, at, type: 'finding', code: 'plateau', step: 5, epoch: 1, message: 'flat', hint: 'stop' },
      { seq: 4, at, type: 'warning', code: 'slow', message: 'slow disk', hint: null },
      { seq: 5, at, type: 'status', status: 'failed', error: { code: 'engine_crashed', message: 'x' }, outputs: [] },
    ]);
    expect(view.checkpoints.map((c) => c.step)).toEqual([2, 5]);
    expect(view.findings).toEqual([{ code: 'plateau', step: 5, message: 'flat', hint: 'stop' }]);
    expect(view.warnings).toHaveLength(1);
    expect(view.status).toBe('failed');
    expect(view.error?.code).toBe('engine_crashed');
  });
});

describe('validation', () => {
  it('puts the validation loss on the chart at its steps', () => {
    const view = fold([
      progress(1, 1, 0.5),
      progress(2, 2, 0.4),
      { seq: 3, at, type: 'validation', step: 2, epoch: 1, loss: 0.3, images: 4 },
      { seq: 4, at, type: 'validation', step: 3, epoch: 1, loss: 0.35, images: 4 },
    ]);
    const [steps, loss, , , validation] = chartColumns(view.points, view.validation);
    expect(steps).toEqual([1, 2, 3]);
    expect(loss).toEqual([0.5, 0.4, null]);
    expect(validation).toEqual([null, 0.3, 0.35]);
  });
});

describe('applyJobSnapshot', () => {
  const job = (step: number, loss?: number): Job => ({
    id: 'j',
    kind: 'train',
    status: 'running',
    device: 'cpu',
    config: {},
    created_at: at,
    started_at: at,
    finished_at: null,
    progress: { step, total: 10, ...(loss === undefined ? {} : { loss }) },
    error: null,
    outputs: [],
    resume_from: null,
    attempts: 1,
  });

  it('takes status always, and progress only when it is ahead of the events', () => {
    let view = applyJobSnapshot(emptyTrainingView(), job(3, 0.7));
    expect(view.status).toBe('running');
    expect(view.step).toBe(3);
    expect(view.points).toEqual([{ step: 3, loss: 0.7, smoothed: null, lr: null }]);
    view = applyEvent(view, progress(1, 5, 0.5));
    view = applyJobSnapshot(view, job(4, 0.6));
    expect(view.step).toBe(5);
    expect(view.points.map((p) => p.step)).toEqual([3, 5]);
  });
});
