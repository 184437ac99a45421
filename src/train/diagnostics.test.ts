import { describe, expect, it } from 'vitest';
import {
  diagnoseLoss,
  findDivergence,
  FLOW_MATCHING_ZERO_PREDICTION_LOSS,
  findOscillation,
  findOverfitting,
  findPlateau,
  formatFinding,
  nearCopyThreshold,
  shouldStopFor,
  type LossPoint,
  type RunFacts,
  type SampleLikeness,
  type SeriesPoint,
  classShare,
  meanLossWeight,
  meanMinSnrWeight,
  weightSpread,
  zeroPredictionLoss,
} from './diagnostics.js';
import { resolveConfig, validateConfig } from '../config/index.js';
import type { EventOf } from '../engine/index.js';
import { runFacts } from './run-monitor.js';
import { seededUniform } from '../testing/seeded-random.js';

const FACTS: RunFacts = { learningRate: 1e-4, batchSize: 2, totalSteps: 200, warmupSteps: 0, zeroPredictionLoss: 1 };

/** A seeded stand-in for the timestep noise of a diffusion loss: values swing ±60% around the level. */
function noisy(levels: number[], seed = 1): LossPoint[] {
  const next = seededUniform(seed);
  return levels.map((level, i) => ({ step: i + 1, epoch: Math.floor(i / 10) + 1, loss: level * (0.4 + 1.2 * next()) }));
}

const range = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));

describe('divergence', () => {
  it('flags a loss that climbs far above its best, with a 10× lower learning rate', () => {
    const points = noisy(range(100, (i) => (i < 50 ? 0.15 - i * 0.001 : 0.1 * 1.08 ** (i - 50))));
    const finding = findDivergence(points, { ...FACTS, totalSteps: 100, learningRate: 1e-3 });
    expect(finding?.code).toBe('divergence');
    expect(finding?.hint).toContain('lower `learning_rate` to about 0.0001 (now 0.001)');
    expect(finding!.step).toBeGreaterThan(50);
  });

  it('leaves a noisy but falling loss alone', () => {
    expect(findDivergence(noisy(range(200, (i) => 0.2 - i * 0.0005)), FACTS)).toBeNull();
  });

  it('flags a run that diverged in its first steps: its windows are worse than predicting no noise', () => {
    // The demo model at lr 1.0 (24 pictures, rank 8, batch 4): 0.35 before the first update, then 1.2–1.3 from step 2.
    const losses = [0.35, 1.23, 1.29, 1.33, 1.24, 1.11, 1.09, 1.04, 1.04, 1.1, 1.15, 1.2, 1.22, 1.25, 1.27];
    const points = losses.map((loss, i) => ({ step: i + 1, epoch: Math.floor(i / 6) + 1, loss }));
    const facts = { ...FACTS, learningRate: 1, batchSize: 4, totalSteps: 24 };
    // The first window is already diverged, so the rise from the best window alone never fires here.
    expect(findDivergence(points, { ...facts, zeroPredictionLoss: Number.POSITIVE_INFINITY })).toBeNull();
    const finding = findDivergence(points, facts);
    expect(formatFinding(finding!)).toBe(
      'warning: the loss is diverging: 1.088 around step 5, worse than predicting no noise at all (1.000) ' +
        '(hint: lower `learning_rate` to about 0.1 (now 1) and keep `max_grad_norm: 1`)',
    );
  });

  it('says nothing against the zero-prediction loss when the base model itself starts above it', () => {
    // An SD 1.5-shaped model with random weights (bench/train-speed.mjs): 1.27 before the first update, then falling.
    const losses = [1.27, 1.263, 1.259, 1.24, 1.234, 1.228, 1.22, 1.212, 1.205, 1.192, 1.182, 1.176];
    const points = losses.map((loss, i) => ({ step: i + 1, epoch: 1, loss }));
    expect(findDivergence(points, { ...FACTS, totalSteps: 12 })).toBeNull();
    // The same windows after a working start (0.35 before the first update) are a divergence.
    expect(findDivergence(points, { ...FACTS, totalSteps: 12 }, 0.35)?.code).toBe('divergence');
  });

  it('leaves a healthy loss below the zero-prediction loss alone, however high it starts', () => {
    const points = noisy(range(40, (i) => 0.6 - i * 0.005));
    expect(findDivergence(points, { ...FACTS, totalSteps: 40 })).toBeNull();
  });

  it('counts the noise offset in the loss of predicting no noise', () => {
    expect(zeroPredictionLoss(0)).toBe(1);
    expect(zeroPredictionLoss(0.1)).toBeCloseTo(1.01);
  });

  it('treats a NaN loss as divergence, before warm-up ends too', () => {
    const points: LossPoint[] = [
      { step: 1, epoch: 1, loss: 0.245 },
      { step: 2, epoch: 1, loss: 1.57 },
      { step: 3, epoch: 1, loss: Number.NaN },
    ];
    const [finding] = diagnoseLoss(points, [], { ...FACTS, learningRate: 1, warmupSteps: 10 });
    expect(formatFinding(finding!)).toBe(
      'warning: the loss diverged to NaN at step 3, from 0.245 at step 1 (hint: lower `learning_rate` to about 0.1 (now 1) and keep `max_grad_norm: 1`)',
    );
  });
});

describe('oscillation', () => {
  it('flags window means that swing up and down', () => {
    // Windows of 10 steps alternating between 0.05 and 0.3.
    const points = range(120, (i) => ({ step: i + 1, epoch: 1, loss: Math.floor(i / 10) % 2 === 0 ? 0.05 : 0.3 }));
    const finding = findOscillation(points, { ...FACTS, totalSteps: 200 });
    expect(finding?.code).toBe('oscillation');
    expect(finding?.hint).toBe(
      'lower `learning_rate` to about 0.00005 (now 0.0001), or raise `batch_size` to 4 (or `gradient_accumulation_steps`)',
    );
  });

  it('leaves plain timestep noise alone', () => {
    expect(findOscillation(noisy(range(200, () => 0.1)), FACTS)).toBeNull();
  });
});

describe('plateau', () => {
  const series = (values: number[], every = 10): SeriesPoint[] =>
    values.map((value, i) => ({ step: (i + 1) * every, epoch: i + 1, value }));

  it('finds a validation loss that stopped improving, and names where it was best', () => {
    const finding = findPlateau(series([0.3, 0.2, 0.15, 0.12, 0.119, 0.12, 0.121, 0.119, 0.12, 0.12]), 30);
    expect(finding?.code).toBe('plateau');
    expect(finding?.data.best_step).toBe(50);
    expect(finding?.hint).toContain('`epochs: 5`');
  });

  it('does not call a steadily falling loss a plateau', () => {
    expect(findPlateau(series(range(10, (i) => 0.3 * 0.9 ** i)), 40)).toBeNull();
  });

  it('needs the flat stretch to last `patience` steps', () => {
    expect(findPlateau(series([0.3, 0.2, 0.15, 0.12, 0.12, 0.12]), 40)).toBeNull();
  });

  it('takes the plateau from the validation loss only: a flat training loss says nothing about the style', () => {
    const flat = noisy(range(300, (i) => (i < 60 ? 0.3 - i * 0.003 : 0.12)));
    expect(diagnoseLoss(flat, [], { ...FACTS, totalSteps: 300 })).toEqual([]);
    const flatValidation = series([0.3, 0.2, 0.15, 0.12, 0.119, 0.12, 0.121, 0.119, 0.12, 0.12], 30);
    expect(diagnoseLoss(flat, flatValidation, { ...FACTS, totalSteps: 300 }).map((f) => f.code)).toEqual(['plateau']);
  });
});

describe('overfitting', () => {
  const round = (step: number, distances: number[]): SampleLikeness[] =>
    distances.map((distanceBits, i) => ({
      step,
      epoch: step / 10,
      sample: `step-${step}-${i}.png`,
      nearestImage: `img_${i}.png`,
      distanceBits,
    }));

  it('warns when most samples are near-copies, from the epoch where it began', () => {
    const likeness = [
      ...round(10, [22, 30]),
      ...round(20, [9, 18]),
      ...round(30, [12, 20]),
      ...round(40, [8, 9]),
      ...round(50, [6, 7]),
    ];
    const finding = findOverfitting(likeness, 10);
    expect(finding?.epoch).toBe(4);
    expect(finding?.message).toBe(
      'samples are near-copies of training pictures since epoch 4 (step 40): step-50-0.png differs from img_0.png in 6 of 64 hash bits',
    );
    expect(finding?.hint).toContain('train fewer epochs (about 3)');
  });

  it('suggests the epoch of the last round that was not copying', () => {
    const every20 = (step: number, distances: number[]) => round(step, distances).map((l) => ({ ...l, epoch: step }));
    const finding = findOverfitting([...every20(20, [16, 22]), ...every20(40, [14, 18]), ...every20(60, [8, 18])], 10);
    expect(finding?.epoch).toBe(60);
    expect(finding?.data.suggested_epochs).toBe(40);
  });

  it('stays quiet while samples only resemble the style', () => {
    expect(findOverfitting([...round(10, [20, 18]), ...round(20, [14, 16]), ...round(30, [12, 15])], 10)).toBeNull();
  });

  it('lowers the threshold when the training pictures are near each other already', () => {
    expect(nearCopyThreshold([14, 16, 18, 22])).toBe(9);
    expect(nearCopyThreshold([30, 32, 28])).toBe(10);
    expect(nearCopyThreshold([])).toBe(10);
  });

  it('stops only for what `early_stop` names', () => {
    const finding = findOverfitting(round(10, [2, 3]), 10)!;
    expect(shouldStopFor(finding, 'overfitting')).toBe(true);
    expect(shouldStopFor(finding, 'any')).toBe(true);
    expect(shouldStopFor(finding, 'plateau')).toBe(false);
    expect(shouldStopFor(finding, 'off')).toBe(false);
  });
});

describe('the loss weighting of Min-SNR-γ and prior preservation', () => {
  const PLAIN = {
    minSnrGamma: null,
    predictionType: 'epsilon',
    zeroTerminalSnr: false,
    priorLossWeight: 1,
    classShare: 0,
  };

  it("averages Min-SNR-γ over SD's schedule as diffusers' DDPMScheduler does", () => {
    // Reference: torch, DDPMScheduler(scaled_linear 0.00085–0.012, 1000 steps), the engine's loss_weights_min_snr.
    expect(meanMinSnrWeight(5, 'epsilon', false)).toBeCloseTo(0.916571, 5);
    expect(meanMinSnrWeight(1, 'epsilon', false)).toBeCloseTo(0.766736, 5);
    expect(meanMinSnrWeight(5, 'v_prediction', false)).toBeCloseTo(0.294331, 5);
    expect(meanMinSnrWeight(5, 'v_prediction', true)).toBeCloseTo(0.277607, 5);
    expect(meanMinSnrWeight(null, 'v_prediction', true)).toBe(1);
  });

  it('scales the zero-prediction loss by the mean weight: class pictures at their weight, Min-SNR by timestep', () => {
    expect(meanLossWeight(PLAIN)).toBe(1);
    expect(meanLossWeight({ ...PLAIN, priorLossWeight: 10, classShare: 0.5 })).toBe(5.5);
    expect(meanLossWeight({ ...PLAIN, minSnrGamma: 5, priorLossWeight: 0, classShare: 0.5 })).toBeCloseTo(0.458, 3);
    expect(classShare([{ repeats: 10 }, { repeats: 10 }, { repeats: 7 }, { repeats: 7 }], (i) => i >= 2)).toBe(14 / 34);
    expect([0, 0.5, 1, 10].map((w) => weightSpread({ priorLossWeight: w, classShare: 0.5 }))).toEqual([10, 2, 1, 10]);
    expect(weightSpread({ priorLossWeight: 10, classShare: 0 })).toBe(1);
  });

  it('still flags a v-prediction Min-SNR run that diverged, whose weighted loss stays below 1', () => {
    // The demo's divergence at lr 1.0 (above), as Min-SNR-γ 5 logs it on a v-prediction model: about 0.29× the MSE.
    const losses = [0.35, 1.23, 1.29, 1.33, 1.24, 1.11, 1.09, 1.04, 1.04, 1.1, 1.15, 1.2, 1.22, 1.25, 1.27];
    const weight = meanMinSnrWeight(5, 'v_prediction', false);
    const points = losses.map((loss, i) => ({ step: i + 1, epoch: 1, loss: loss * weight }));
    const facts = { ...FACTS, learningRate: 1, batchSize: 4, totalSteps: 24 };
    // Against the plain reference (1.0) the weighted loss never looks diverged.
    expect(findDivergence(points, facts)).toBeNull();
    const finding = findDivergence(points, { ...facts, zeroPredictionLoss: zeroPredictionLoss(0, weight) });
    expect(finding?.message).toContain('worse than predicting no noise at all (0.294)');
  });

  it('raises no false alarm on a healthy Min-SNR run (its weights are at most 1)', () => {
    const next = seededUniform(7);
    const healthy = noisy(range(200, (i) => 0.3 - i * 0.0005)).map((p) => ({ ...p, loss: p.loss * next() }));
    const facts = { ...FACTS, zeroPredictionLoss: zeroPredictionLoss(0, meanMinSnrWeight(5, 'epsilon', false)) };
    expect(diagnoseLoss(healthy, [], facts)).toEqual([]);
  });

  it('raises no false alarm on a healthy run whose class pictures weigh 10× (prior_loss_weight: 10)', () => {
    const isClass = seededUniform(3);
    const points = noisy(range(200, (i) => 0.3 - i * 0.0005)).map((p, i) => ({
      ...p,
      loss: i > 0 && isClass() < 0.5 ? p.loss * 10 : p.loss,
    }));
    const weights = { ...PLAIN, priorLossWeight: 10, classShare: 0.5 };
    // Unweighted references take the class pictures' weight for a diverging loss.
    expect(diagnoseLoss(points, [], FACTS).map((f) => f.code)).toContain('divergence');
    const facts = {
      ...FACTS,
      zeroPredictionLoss: zeroPredictionLoss(0, meanLossWeight(weights)),
      weightSpread: weightSpread(weights),
    };
    expect(diagnoseLoss(points, [], facts)).toEqual([]);
    // A real divergence still shows: the same run blowing up from step 120.
    const diverging = points.map((p, i) => (i < 120 ? p : { ...p, loss: p.loss * 1.1 ** (i - 120) }));
    expect(diagnoseLoss(diverging, [], facts)[0]?.code).toBe('divergence');
  });

  it('takes the weighting from the run: Min-SNR on a v-prediction model, class pictures at their weight', () => {
    const parsed = validateConfig({
      file: 'run.yaml',
      text: 'train_data_dir: data\nbase_model: base.safetensors\nmin_snr_gamma: 5\nprior_loss_weight: 2\n',
    });
    const config = resolveConfig(parsed, { cwd: '/work', isFile: () => false });
    const started = { prediction_type: 'v_prediction', total_steps: 100 } as EventOf<'started'>;
    const facts = runFacts(config, started, 0.5);
    expect(facts.zeroPredictionLoss).toBeCloseTo(0.294331 * 1.5, 5);
    expect(facts.weightSpread).toBe(2);
    expect(runFacts(config, { ...started, prediction_type: 'epsilon' }).zeroPredictionLoss).toBeCloseTo(0.916571, 5);
  });

  it("judges a Flux run against the velocity target's zero-prediction loss, 2, whatever SD-only keys say", () => {
    const parsed = validateConfig({
      file: 'run.yaml',
      text: 'train_data_dir: data\nbase_model: flux\nmin_snr_gamma: 5\nnoise_offset: 0.1\n',
    });
    const config = resolveConfig(parsed, { cwd: '/work', isFile: () => false });
    const started = { prediction_type: 'flow_matching', total_steps: 100 } as EventOf<'started'>;
    expect(runFacts(config, started).zeroPredictionLoss).toBe(2);
    // A velocity loss swings with the drawn σ: windows around 1.2 after a 0.8 start are healthy for Flux, though an
    // SD reference (1) would call them diverged; windows around 2.4 are worse than predicting nothing.
    const points = (level: number) =>
      [0.8, ...Array.from({ length: 39 }, () => level)].map((loss, i) => ({ step: i + 1, epoch: 1, loss }));
    const flux = { ...FACTS, totalSteps: 40, zeroPredictionLoss: FLOW_MATCHING_ZERO_PREDICTION_LOSS };
    expect(findDivergence(points(1.2), { ...flux, zeroPredictionLoss: 1 })?.code).toBe('divergence');
    expect(findDivergence(points(1.2), flux)).toBeNull();
    expect(findDivergence(points(2.4), flux)?.code).toBe('divergence');
  });
});
