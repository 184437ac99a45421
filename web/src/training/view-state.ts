// A training job's page as a pure fold over its events (and job snapshots, for servers without the event stream).
import type { ApiErrorBody, Job, JobEvent, JobStatus } from '../api/types.js';

export interface LossPoint {
  step: number;
  loss: number;
  smoothed: number | null;
  lr: number | null;
}

export interface TrainingView {
  /** The last event folded in; the stream resumes after it. */
  lastSeq: number;
  status: JobStatus | null;
  error: ApiErrorBody | null;
  outputs: string[];
  step: number;
  totalSteps: number;
  epoch: number | null;
  stepMs: number | null;
  etaS: number | null;
  /** One point per step, in step order (a repeated step replaces the earlier one: a resumed run re-reports it). */
  points: LossPoint[];
  /** The held-out pictures' loss, at the steps validation ran. */
  validation: { step: number; loss: number }[];
  /** prompt → step → image path; prompts and steps in the order they first came. */
  samples: { prompts: string[]; steps: number[]; images: Record<string, Record<number, string>> };
  checkpoints: { step: number; path: string; isFinal: boolean }[];
  findings: { code: string; step: number; message: string; hint?: string | undefined }[];
  warnings: { code: string; message: string; hint: string | null }[];
}

export function emptyTrainingView(): TrainingView {
  return {
    lastSeq: 0,
    status: null,
    error: null,
    outputs: [],
    step: 0,
    totalSteps: 0,
    epoch: null,
    stepMs: null,
    etaS: null,
    points: [],
    validation: [],
    samples: { prompts: [], steps: [], images: {} },
    checkpoints: [],
    findings: [],
    warnings: [],
  };
}

export function applyEvent(view: TrainingView, event: JobEvent): TrainingView {
  // The stream may replay an event after a reconnect; seq makes folding idempotent.
  if (event.seq <= view.lastSeq) return view;
  const next = { ...view, lastSeq: event.seq };
  switch (event.type) {
    case 'progress':
      return {
        ...next,
        step: event.step,
        totalSteps: event.total_steps,
        epoch: event.epoch ?? view.epoch,
        stepMs: event.step_ms ?? view.stepMs,
        etaS: event.eta_s ?? null,
        points: withPoint(view.points, {
          step: event.step,
          loss: event.loss,
          smoothed: event.loss_smoothed ?? null,
          lr: event.lr ?? null,
        }),
      };
    case 'sample':
      return { ...next, samples: withSample(view.samples, event.prompt, event.step, event.path) };
    case 'checkpoint':
      return {
        ...next,
        checkpoints: [
          ...view.checkpoints.filter((c) => c.step !== event.step),
          { step: event.step, path: event.path, isFinal: event.is_final },
        ].sort((a, b) => a.step - b.step),
      };
    case 'finding':
      return {
        ...next,
        findings: [...view.findings, { code: event.code, step: event.step, message: event.message, hint: event.hint }],
      };
    case 'validation':
      return {
        ...next,
        validation: [
          ...view.validation.filter((v) => v.step !== event.step),
          { step: event.step, loss: event.loss },
        ].sort((a, b) => a.step - b.step),
      };
    case 'warning':
      return { ...next, warnings: [...view.warnings, { code: event.code, message: event.message, hint: event.hint }] };
    case 'status':
      return { ...next, status: event.status, error: event.error, outputs: event.outputs };
    default:
      return next;
  }
}

/** The job as GET /api/jobs/{id} returns it: status, error and outputs always; progress only when no event gave it. */
export function applyJobSnapshot(view: TrainingView, job: Job): TrainingView {
  const next: TrainingView = { ...view, status: job.status, error: job.error, outputs: job.outputs };
  const progress = job.progress;
  if (!progress || progress.step <= view.step) return next;
  const loss = typeof progress.loss === 'number' ? progress.loss : null;
  return {
    ...next,
    step: progress.step,
    totalSteps: progress.total,
    points:
      loss === null ? view.points : withPoint(view.points, { step: progress.step, loss, smoothed: null, lr: null }),
  };
}

function withPoint(points: LossPoint[], point: LossPoint): LossPoint[] {
  const last = points[points.length - 1];
  if (last === undefined || last.step < point.step) return [...points, point];
  return [...points.filter((p) => p.step !== point.step), point].sort((a, b) => a.step - b.step);
}

function withSample(samples: TrainingView['samples'], prompt: string, step: number, path: string) {
  return {
    prompts: samples.prompts.includes(prompt) ? samples.prompts : [...samples.prompts, prompt],
    steps: samples.steps.includes(step) ? samples.steps : [...samples.steps, step].sort((a, b) => a - b),
    images: { ...samples.images, [prompt]: { ...samples.images[prompt], [step]: path } },
  };
}

/** Iterations per second from the step time, for the status line. */
export function itemsPerSecond(stepMs: number | null): number | null {
  if (stepMs === null || stepMs <= 0) return null;
  return 1000 / stepMs;
}

type Column = (number | null)[];

/**
 * uPlot's column data: steps, raw loss, smoothed loss, learning rate, validation loss (null where a step lacks it;
 * a validation at a step with no progress point gets a column of its own).
 */
export function chartColumns(
  points: LossPoint[],
  validation: { step: number; loss: number }[] = [],
): [number[], Column, Column, Column, Column] {
  const byStep = new Map(points.map((p) => [p.step, p]));
  const validationByStep = new Map(validation.map((v) => [v.step, v.loss]));
  const steps = [...new Set([...byStep.keys(), ...validationByStep.keys()])].sort((a, b) => a - b);
  return [
    steps,
    steps.map((step) => byStep.get(step)?.loss ?? null),
    steps.map((step) => byStep.get(step)?.smoothed ?? null),
    steps.map((step) => byStep.get(step)?.lr ?? null),
    steps.map((step) => validationByStep.get(step) ?? null),
  ];
}
