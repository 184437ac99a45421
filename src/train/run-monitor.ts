// Watches a training run's events and turns them into diagnostics (train/diagnostics.ts): loss findings as progress
// arrives, overfitting from each round of samples (perceptual hashes against the training pictures), and the stop
// that `early_stop` asks for. Each finding is reported once, appended to logs/diagnostics.jsonl and kept for the
// run record.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { ResolvedConfig } from '../config/index.js';
import { hashDistance, readPerceptualHash } from '../dataset/index.js';
import type { EngineEvent, EventOf } from '../engine/index.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import {
  diagnoseLoss,
  findOverfitting,
  FLOW_MATCHING_ZERO_PREDICTION_LOSS,
  meanLossWeight,
  nearCopyThreshold,
  shouldStopFor,
  weightSpread,
  windowSize,
  zeroPredictionLoss,
  type LossWeights,
  type Finding,
  type LossPoint,
  type RunFacts,
  type SampleLikeness,
  type SeriesPoint,
} from './diagnostics.js';

export interface RunMonitorOptions {
  config: ResolvedConfig;
  /** Absolute paths of the training pictures (what samples are compared with). */
  trainingImages: string[];
  /** Called once per new finding. */
  report: (finding: Finding) => void;
  /** What the run found before it was stopped and resumed (readLoggedFindings): kept, not reported again. */
  earlier?: Finding[];
  /** The share of samples that are `reg_data_dir` class pictures (diagnostics.ts classShare); default 0. */
  classShare?: number;
}

/** What the loss rules need to know of the run, the logged loss's weighting included (diagnostics.ts). */
export function runFacts(config: ResolvedConfig, started: EventOf<'started'>, classShare = 0): RunFacts {
  const weights: LossWeights = {
    minSnrGamma: config.min_snr_gamma,
    predictionType: started.prediction_type,
    zeroTerminalSnr: config.zero_terminal_snr,
    priorLossWeight: config.prior_loss_weight,
    classShare,
  };
  return {
    learningRate: config.learning_rate,
    batchSize: config.batch_size,
    totalSteps: started.total_steps,
    warmupSteps: config.lr_warmup_steps,
    zeroPredictionLoss:
      started.prediction_type === 'flow_matching'
        ? FLOW_MATCHING_ZERO_PREDICTION_LOSS
        : zeroPredictionLoss(config.noise_offset, meanLossWeight(weights)),
    weightSpread: weightSpread(weights),
  };
}

export interface RunMonitor {
  onEvent(event: EngineEvent): void;
  /** Aborted when `early_stop` asks to stop: pass it to runEngine. */
  stopSignal: AbortSignal;
  /** The finding that stopped the run early, if any. */
  stoppedBy(): Finding | null;
  /** The last checks over the whole run; resolves with every finding. */
  finish(): Promise<Finding[]>;
}

interface TrainingHashes {
  byImage: { path: string; hash: string }[];
  thresholdBits: number;
}

async function hashTrainingImages(paths: string[]): Promise<TrainingHashes> {
  const byImage = await Promise.all(paths.map(async (path) => ({ path, hash: await readPerceptualHash(path) })));
  const nearest = byImage.map((a) =>
    Math.min(...byImage.filter((b) => b !== a).map((b) => hashDistance(a.hash, b.hash))),
  );
  return { byImage, thresholdBits: nearCopyThreshold(nearest.filter(Number.isFinite)) };
}

export function createRunMonitor(options: RunMonitorOptions): RunMonitor {
  const { config } = options;
  const logFile = join(config.output_dir, 'logs', 'diagnostics.jsonl');
  const controller = new AbortController();
  const findings = new Map<string, Finding>((options.earlier ?? []).map((finding) => [finding.code, finding]));
  const points: LossPoint[] = [];
  const validation: SeriesPoint[] = [];
  const likeness: SampleLikeness[] = [];
  const pending: Promise<void>[] = [];
  let facts: RunFacts | null = null;
  let stepsPerEpoch = 1;
  let stoppedBy: Finding | null = null;
  let trainingHashes: Promise<TrainingHashes> | null = null;

  const record = (found: Finding[]) => {
    for (const finding of found) {
      if (findings.has(finding.code)) continue;
      findings.set(finding.code, finding);
      appendFileSync(logFile, `${JSON.stringify({ type: 'diagnostic', ...finding })}\n`);
      options.report(finding);
      if (!stoppedBy && shouldStopFor(finding, config.early_stop)) {
        stoppedBy = finding;
        controller.abort();
      }
    }
  };
  const checkLoss = () => facts && record(diagnoseLoss(points, validation, facts));

  const compareSample = async (step: number, path: string) => {
    trainingHashes ??= hashTrainingImages(options.trainingImages);
    const training = await trainingHashes;
    const hash = await readPerceptualHash(path);
    const nearest = training.byImage.reduce((a, b) =>
      hashDistance(hash, b.hash) < hashDistance(hash, a.hash) ? b : a,
    );
    likeness.push({
      step,
      epoch: Math.ceil(step / stepsPerEpoch),
      sample: basename(path),
      nearestImage: basename(nearest.path),
      distanceBits: hashDistance(hash, nearest.hash),
    });
    // A round is complete when every prompt of that step has been compared.
    if (likeness.filter((l) => l.step === step).length === config.sample_prompts.length) {
      const finding = findOverfitting(likeness, training.thresholdBits);
      if (finding) record([finding]);
    }
  };

  return {
    stopSignal: controller.signal,
    stoppedBy: () => stoppedBy,
    onEvent(event) {
      switch (event.type) {
        case 'started':
          stepsPerEpoch = event.steps_per_epoch;
          facts = runFacts(config, event, options.classShare);
          return;
        case 'progress':
          points.push({ step: event.step, epoch: event.epoch, loss: event.loss });
          // Checked once per loss window: the findings only change when a window completes.
          if (event.step % windowSize(event.total_steps) === 0) checkLoss();
          return;
        case 'validation':
          validation.push({ step: event.step, epoch: event.epoch, value: event.loss });
          checkLoss();
          return;
        case 'error':
          // The engine stops on a NaN loss before reporting that step: it is the last point of the series.
          if (event.code === 'loss_not_finite') {
            const last = points.at(-1);
            points.push({ step: (last?.step ?? 0) + 1, epoch: last?.epoch ?? 1, loss: Number.NaN });
            checkLoss();
          }
          return;
        case 'sample':
          pending.push(compareSample(event.step, event.path));
          return;
        default:
          return;
      }
    },
    async finish() {
      await Promise.all(pending);
      checkLoss();
      return [...findings.values()];
    },
  };
}

/** The findings logged to `logs/diagnostics.jsonl` so far, the first of each code (what a resumed run found before). */
export function readLoggedFindings(outputDir: string): Finding[] {
  const file = join(outputDir, 'logs', 'diagnostics.jsonl');
  if (!existsSync(file)) return [];
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  const firstOfEach = new Map<string, Finding>();
  for (const line of lines) {
    const { type: _type, ...finding } = JSON.parse(line) as Finding & { type?: string };
    if (!firstOfEach.has(finding.code)) firstOfEach.set(finding.code, finding);
  }
  return [...firstOfEach.values()];
}

/** Adds the findings to `lora_scripts.json` (written just before by the run), as its `diagnostics` list. */
export function recordDiagnostics(outputDir: string, findings: Finding[], stoppedBy: Finding | null): void {
  const file = join(outputDir, 'lora_scripts.json');
  const record = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  record.diagnostics = findings.map((finding) => ({ ...finding, stopped_training: finding === stoppedBy }));
  writeFileAtomic(file, `${JSON.stringify(record, null, 2)}\n`);
}
