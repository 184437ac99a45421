// Training diagnostics, pure: the loss series and the likeness of samples to training pictures → findings, each
// with what to change. Fed by train/run-monitor.ts during a run; printed, logged and kept in lora_scripts.json.

export type FindingCode = 'divergence' | 'oscillation' | 'plateau' | 'overfitting';

export interface Finding {
  code: FindingCode;
  /** The step at which the problem was found (for overfitting: where it started). */
  step: number;
  epoch: number;
  message: string;
  hint: string;
  /** The figures behind the finding, for the run report and a future UI. */
  data: Record<string, number | string>;
}

export interface LossPoint {
  step: number;
  epoch: number;
  loss: number;
}

export interface RunFacts {
  learningRate: number;
  batchSize: number;
  totalSteps: number;
  warmupSteps: number;
  /**
   * The loss of predicting no noise at all (zeroPredictionLoss), in the logged loss's weighting: a LoRA that does
   * worse has diverged.
   */
  zeroPredictionLoss: number;
  /** How far the sample weights alone can move one window's mean from another's (weightSpread); default 1. */
  weightSpread?: number;
}

/**
 * The loss of a model that predicts zeros: the mean square of the target. For ε-prediction that is the noise's
 * variance, 1 + `noise_offset`² (unit Gaussian noise plus the per-channel offset). For v-prediction it is about the
 * same: v mixes the noise with the latents, which the VAE's scaling factor makes unit-variance too.
 */
export function zeroPredictionLoss(noiseOffset: number, meanWeight = 1): number {
  // The logged loss is each sample's squared error times its weight (meanLossWeight), whose mean multiplies it.
  return (1 + noiseOffset ** 2) * meanWeight;
}

/**
 * The same for Flux's rectified flow: the target is the velocity ε − x, whose mean square is the noise's variance
 * plus the latents' (Flux's VAE shift and scale make them unit-variance), 2. train_flux applies no noise offset and no
 * sample weights, so nothing scales it.
 */
export const FLOW_MATCHING_ZERO_PREDICTION_LOSS = 2;

/**
 * What the engine multiplies each sample's squared error by before it logs the loss (training_options.py
 * `step_loss`): Min-SNR-γ by the sample's timestep, `prior_loss_weight` for class pictures. A mask changes which
 * pixels are averaged, not the scale: the noise is as large under any mask, so the references hold unchanged.
 */
export interface LossWeights {
  /** `min_snr_gamma`; null: off. */
  minSnrGamma: number | null;
  predictionType: string;
  zeroTerminalSnr: boolean;
  priorLossWeight: number;
  /** The share of samples that are class pictures (repeats counted); 0 without `reg_data_dir`. */
  classShare: number;
}

/** The mean sample weight of the logged loss; the timestep and the picture are drawn independently. */
export function meanLossWeight(weights: LossWeights): number {
  const prior = 1 - weights.classShare + weights.classShare * weights.priorLossWeight;
  return prior * meanMinSnrWeight(weights.minSnrGamma, weights.predictionType, weights.zeroTerminalSnr);
}

/**
 * How much the class pictures' weight alone can move a window's mean against another's: the heaviest sample weight
 * over the lightest (a window may hold only your pictures, another mostly class pictures). The ratio rules of
 * findDivergence are widened by it. 1 without class pictures or at `prior_loss_weight: 1`. Min-SNR weights need no
 * widening: each step draws its timesteps afresh, so they average out in a window like the timestep noise itself.
 * The lightest weight counts as at least a tenth of the heaviest: at `prior_loss_weight` near 0 a window of class
 * pictures only is as rare as it is anywhere, and the zero-prediction rule still judges every window.
 */
export function weightSpread(weights: Pick<LossWeights, 'priorLossWeight' | 'classShare'>): number {
  if (weights.classShare === 0) return 1;
  const [lightest, heaviest] = [Math.min(1, weights.priorLossWeight), Math.max(1, weights.priorLossWeight)];
  return heaviest / Math.max(lightest, heaviest / 10);
}

/** The share of `items` (with repeats) that are class pictures, as the manifest lists them. */
export function classShare(items: ReadonlyArray<{ repeats: number }>, isClass: (index: number) => boolean): number {
  const total = items.reduce((sum, item) => sum + item.repeats, 0);
  const classes = items.reduce((sum, item, i) => sum + (isClass(i) ? item.repeats : 0), 0);
  return total === 0 ? 0 : classes / total;
}

// Stable Diffusion's training schedule (SD 1.x, 2.x and SDXL alike): 1000 steps of "scaled_linear" betas.
const TRAIN_TIMESTEPS = 1000;
const BETA_START = 0.00085;
const BETA_END = 0.012;

/** alphas_cumprod of that schedule, as diffusers' DDPMScheduler computes it (`rescale_betas_zero_snr` too). */
function alphasCumprod(zeroTerminalSnr: boolean): number[] {
  const [from, to] = [Math.sqrt(BETA_START), Math.sqrt(BETA_END)];
  const cumprod: number[] = [];
  let product = 1;
  for (let t = 0; t < TRAIN_TIMESTEPS; t++) {
    const beta = (from + ((to - from) * t) / (TRAIN_TIMESTEPS - 1)) ** 2;
    product *= 1 - beta;
    cumprod.push(product);
  }
  if (!zeroTerminalSnr) return cumprod;
  // Lin et al. 2023: shift √ᾱ so the last step is 0 and scale it so the first keeps its value.
  const roots = cumprod.map(Math.sqrt);
  const [first, last] = [roots[0]!, roots.at(-1)!];
  return roots.map((root) => ((root - last) * first) / (first - last)).map((root) => root ** 2);
}

/**
 * The mean Min-SNR-γ weight over uniformly drawn timesteps (training_options.py `loss_weights_min_snr`): about 0.92
 * at γ = 5 for an epsilon model, but 0.29 for a v-prediction one, whose weight min(SNR, γ) / (SNR + 1) is small at
 * both ends of the schedule. 1 when off, or for a target it does not weight.
 */
export function meanMinSnrWeight(gamma: number | null, predictionType: string, zeroTerminalSnr: boolean): number {
  if (gamma === null || (predictionType !== 'epsilon' && predictionType !== 'v_prediction')) return 1;
  const weights = alphasCumprod(zeroTerminalSnr).map((alphaBar) => {
    const snr = alphaBar / (1 - alphaBar);
    if (predictionType === 'v_prediction') return Math.min(snr, gamma) / (snr + 1);
    return snr > 0 ? Math.min(snr, gamma) / snr : 1;
  });
  return weights.reduce((a, b) => a + b, 0) / weights.length;
}

/** Mean loss of consecutive windows: single-step diffusion losses swing ×10 with the random timestep. */
export interface LossWindow {
  step: number; // last step of the window
  epoch: number;
  mean: number;
}

/** About 20 windows over the run, 5–50 steps each. */
export function windowSize(totalSteps: number): number {
  return Math.min(50, Math.max(5, Math.round(totalSteps / 20)));
}

export function lossWindows(points: LossPoint[], size: number): LossWindow[] {
  const windows: LossWindow[] = [];
  for (let end = size; end <= points.length; end += size) {
    const slice = points.slice(end - size, end);
    windows.push({
      step: slice.at(-1)!.step,
      epoch: slice.at(-1)!.epoch,
      mean: slice.reduce((sum, p) => sum + p.loss, 0) / size,
    });
  }
  return windows;
}

/** One significant figure, as people write learning rates: 0.00034 → 3e-4. */
export function roundLearningRate(value: number): number {
  return Number(value.toPrecision(1));
}

function formatNumber(value: number): string {
  return value >= 0.01 && value < 1000 ? value.toFixed(3) : value.toExponential(1);
}

// A rise to 2× the best window, and 1.5× the first one, is far outside what the timestep noise does to a window mean.
const DIVERGED_OVER_BEST = 2;
const DIVERGED_OVER_FIRST = 1.5;
// One step 50× the first window: the weights have blown up, whatever the windows say yet.
const EXPLODED_OVER_FIRST = 50;

/**
 * `startLoss` is the loss before the first update (the base model with the LoRA still at zero), by default the
 * first point's.
 */
export function findDivergence(
  points: LossPoint[],
  facts: RunFacts,
  startLoss: number | undefined = points[0]?.loss,
): Finding | null {
  const size = windowSize(facts.totalSteps);
  const windows = lossWindows(points, size);
  return findWorseThanZeroPrediction(windows, facts, startLoss) ?? findRiseFromBest(points, windows, size, facts);
}

/**
 * A window worse than predicting no noise at all. Unlike the rise from the best window, this needs no history: a run
 * whose first steps already blew the LoRA up (the first window is no reference then) is caught at its first window.
 * Any working base model scores far below it (the demo model about 0.4, SD 1.5 about 0.1). A base model that starts
 * above it is no working model (random weights: an SD 1.5-shaped one starts at 1.27 and falls), so there the rule
 * says nothing and the rise from the best window judges alone.
 */
function findWorseThanZeroPrediction(
  windows: LossWindow[],
  facts: RunFacts,
  startLoss: number | undefined,
): Finding | null {
  if (startLoss === undefined || !(startLoss < facts.zeroPredictionLoss)) return null;
  const worse = windows.find((w) => w.mean > facts.zeroPredictionLoss);
  if (!worse) return null;
  const suggested = roundLearningRate(facts.learningRate / 10);
  const reference = formatNumber(facts.zeroPredictionLoss);
  return {
    code: 'divergence',
    step: worse.step,
    epoch: worse.epoch,
    message: `the loss is diverging: ${formatNumber(worse.mean)} around step ${worse.step}, worse than predicting no noise at all (${reference})`,
    hint: `lower \`learning_rate\` to about ${suggested} (now ${facts.learningRate}) and keep \`max_grad_norm: 1\``,
    data: {
      learning_rate: facts.learningRate,
      suggested_learning_rate: suggested,
      loss: worse.mean,
      zero_prediction_loss: facts.zeroPredictionLoss,
    },
  };
}

function findRiseFromBest(points: LossPoint[], windows: LossWindow[], size: number, facts: RunFacts): Finding | null {
  if (windows.length < 3) return null;
  const spread = facts.weightSpread ?? 1;
  const first = windows[0]!.mean;
  const last = windows.at(-1)!;
  const best = windows.slice(0, -1).reduce((a, b) => (b.mean < a.mean ? b : a));
  const peak = points.slice(size).reduce((a, b) => (b.loss > a.loss ? b : a), points[0]!);
  const isRising =
    last.mean > DIVERGED_OVER_BEST * spread * best.mean && last.mean > DIVERGED_OVER_FIRST * spread * first;
  const hasExploded = peak.loss > EXPLODED_OVER_FIRST * spread * first;
  if (!isRising && !hasExploded) return null;
  const at = isRising ? last : { step: peak.step, epoch: peak.epoch, mean: peak.loss };
  const suggested = roundLearningRate(facts.learningRate / 10);
  return {
    code: 'divergence',
    step: at.step,
    epoch: at.epoch,
    message: `the loss is diverging: ${formatNumber(at.mean)} around step ${at.step}, up from ${formatNumber(best.mean)} at step ${best.step}`,
    hint: `lower \`learning_rate\` to about ${suggested} (now ${facts.learningRate}) and keep \`max_grad_norm: 1\``,
    data: {
      learning_rate: facts.learningRate,
      suggested_learning_rate: suggested,
      loss: at.mean,
      best_loss: best.mean,
      best_step: best.step,
    },
  };
}

/** A NaN or infinite loss (the engine stops the run on it): the clearest divergence there is. */
export function findNonFiniteLoss(points: LossPoint[], facts: RunFacts): Finding | null {
  const broken = points.find((p) => !Number.isFinite(p.loss));
  if (!broken) return null;
  const first = points[0]!;
  const suggested = roundLearningRate(facts.learningRate / 10);
  return {
    code: 'divergence',
    step: broken.step,
    epoch: broken.epoch,
    message: `the loss diverged to ${broken.loss} at step ${broken.step}, from ${formatNumber(first.loss)} at step ${first.step}`,
    hint: `lower \`learning_rate\` to about ${suggested} (now ${facts.learningRate}) and keep \`max_grad_norm: 1\``,
    data: {
      learning_rate: facts.learningRate,
      suggested_learning_rate: suggested,
      loss: String(broken.loss),
      first_loss: first.loss,
    },
  };
}

// Over the last 6 windows the mean changes direction at least 4 times, and the window means scatter far more than
// the step-to-step noise inside the windows explains: a variance ratio of 4 is reached by chance about 1 time in 100
// (an F-test with 5 and 6×(size−1) degrees of freedom), while timestep noise alone gives about 1.
const OSCILLATION_WINDOWS = 6;
const OSCILLATION_TURNS = 4;
const OSCILLATION_VARIANCE_RATIO = 4;

function variance(values: number[]): number {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / Math.max(1, values.length - 1);
}

export function findOscillation(points: LossPoint[], facts: RunFacts): Finding | null {
  const size = windowSize(facts.totalSteps);
  const windows = lossWindows(points, size).slice(-OSCILLATION_WINDOWS);
  if (windows.length < OSCILLATION_WINDOWS) return null;
  const means = windows.map((w) => w.mean);
  let turns = 0;
  for (let i = 2; i < means.length; i++)
    if (Math.sign(means[i]! - means[i - 1]!) * Math.sign(means[i - 1]! - means[i - 2]!) < 0) turns++;
  const covered = points.slice(-OSCILLATION_WINDOWS * size);
  let noise = 0;
  for (let w = 0; w < OSCILLATION_WINDOWS; w++)
    noise += variance(covered.slice(w * size, (w + 1) * size).map((p) => p.loss)) / OSCILLATION_WINDOWS;
  // The variance a window mean would have from the noise alone is noise / size; a flat series has no noise at all.
  const ratio = variance(means) / Math.max(noise / size, 1e-12);
  if (turns < OSCILLATION_TURNS || ratio < OSCILLATION_VARIANCE_RATIO) return null;
  const level = means.reduce((a, b) => a + b, 0) / means.length;
  const swing = (Math.max(...means) - Math.min(...means)) / level;
  const last = windows.at(-1)!;
  const suggested = roundLearningRate(facts.learningRate / 2);
  return {
    code: 'oscillation',
    step: last.step,
    epoch: last.epoch,
    message: `the loss swings up and down by ${Math.round(swing * 100)}% of its level over the last ${OSCILLATION_WINDOWS * size} steps, more than its step-to-step noise explains`,
    hint: `lower \`learning_rate\` to about ${suggested} (now ${facts.learningRate}), or raise \`batch_size\` to ${facts.batchSize * 2} (or \`gradient_accumulation_steps\`)`,
    data: {
      learning_rate: facts.learningRate,
      suggested_learning_rate: suggested,
      batch_size: facts.batchSize,
      swing,
      turns,
      variance_ratio: ratio,
    },
  };
}

export interface SeriesPoint {
  step: number;
  epoch: number;
  value: number;
}

// "No longer improving": the mean of the last `patience` steps is within 5% of the mean of the `patience` steps
// before them. Means, not minima: a lucky low window would otherwise hide a plateau (or fake an improvement).
const PLATEAU_GAIN = 0.05;

const meanOf = (points: SeriesPoint[]) => points.reduce((sum, p) => sum + p.value, 0) / points.length;

/**
 * A plateau in a loss series (the validation loss: fixed timesteps and noise make it comparable step to step).
 * `patience` is how long the loss must stay flat, in steps.
 */
export function findPlateau(series: SeriesPoint[], patience: number): Finding | null {
  const last = series.at(-1);
  if (!last) return null;
  const recent = series.filter((p) => p.step > last.step - patience);
  const previous = series.filter((p) => p.step > last.step - 2 * patience && p.step <= last.step - patience);
  if (recent.length < 2 || previous.length < 2) return null;
  const [recentMean, previousMean] = [meanOf(recent), meanOf(previous)];
  if (recentMean < previousMean * (1 - PLATEAU_GAIN)) return null;
  const best = series.reduce((a, b) => (b.value < a.value ? b : a));
  return {
    code: 'plateau',
    step: last.step,
    epoch: last.epoch,
    message: `the validation loss has not improved over the last ${patience} steps (${formatNumber(recentMean)} against ${formatNumber(previousMean)} before; best ${formatNumber(best.value)} at step ${best.step}, epoch ${best.epoch})`,
    hint: `training could stop here: about ${best.epoch} epochs are enough for this data (\`epochs: ${Math.max(1, best.epoch)}\`), or set \`early_stop: plateau\`; if samples still improve, ignore this`,
    data: {
      source: 'validation',
      best_step: best.step,
      best_epoch: best.epoch,
      best_loss: best.value,
      recent_loss: recentMean,
      previous_loss: previousMean,
    },
  };
}

/** Plateau patience for the (noise-free) validation loss: a quarter of the run, at least 20 steps. */
export function plateauPatience(totalSteps: number): number {
  return Math.max(20, Math.round(totalSteps * 0.25));
}

/** Every loss finding that holds for the series so far (divergence hides oscillation: it is the bigger problem). */
export function diagnoseLoss(points: LossPoint[], validation: SeriesPoint[], facts: RunFacts): Finding[] {
  const afterWarmup = points.filter((p) => p.step > facts.warmupSteps);
  const divergence =
    findNonFiniteLoss(points, facts) ??
    findDivergence(
      afterWarmup.filter((p) => Number.isFinite(p.loss)),
      facts,
      points[0]?.loss,
    );
  const oscillation = divergence ? null : findOscillation(afterWarmup, facts);
  // Only the validation loss can say "stop here": the training loss of a diffusion model flattens within a few dozen
  // steps (it is dominated by the random timestep) while the style keeps improving. Measured on the demo: window means
  // flat from step ~165 of 250, yet the style score at strength 1 still rose to the end.
  const plateau = validation.length >= 4 ? findPlateau(validation, plateauPatience(facts.totalSteps)) : null;
  return [divergence, oscillation, divergence ? null : plateau].filter((f): f is Finding => f !== null);
}

/** How close one rendered sample is to its nearest training picture (perceptual-hash bits that differ, of 64). */
export interface SampleLikeness {
  step: number;
  epoch: number;
  sample: string;
  nearestImage: string;
  distanceBits: number;
}

// pHash: unrelated pictures differ in ~32 of 64 bits, a re-encoded copy in 0–4. Pictures of one style sit 12–30
// apart (the demo's jiangnan scenes: median 18), so a sample within 10 bits has the layout of one training picture.
const NEAR_COPY_BITS = 10;

/**
 * The distance below which a sample counts as a near-copy: 10 bits, or less when the training pictures are
 * themselves that close to each other (then any sample in their style would look like a "copy").
 */
export function nearCopyThreshold(trainingNearestBits: number[]): number {
  if (trainingNearestBits.length === 0) return NEAR_COPY_BITS;
  const sorted = [...trainingNearestBits].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  return Math.min(NEAR_COPY_BITS, Math.floor(median / 2));
}

/**
 * Overfitting: in the latest sample round, at least half the samples are near-copies of training pictures.
 * It "started" at the first round of the unbroken stretch of such rounds that reaches the latest one.
 */
export function findOverfitting(likeness: SampleLikeness[], thresholdBits: number): Finding | null {
  const rounds = [...new Set(likeness.map((l) => l.step))]
    .sort((a, b) => a - b)
    .map((step) => likeness.filter((l) => l.step === step));
  const isCopying = (round: SampleLikeness[]) =>
    round.filter((l) => l.distanceBits <= thresholdBits).length * 2 >= round.length;
  let start = rounds.length;
  while (start > 0 && isCopying(rounds[start - 1]!)) start--;
  if (start === rounds.length) return null;
  const first = rounds[start]!;
  const closest = rounds.at(-1)!.reduce((a, b) => (b.distanceBits < a.distanceBits ? b : a));
  const began = first[0]!;
  // The last round that was not copying is the latest LoRA known to be safe.
  const keepEpochs = start > 0 ? rounds[start - 1]![0]!.epoch : Math.max(1, began.epoch - 1);
  return {
    code: 'overfitting',
    step: began.step,
    epoch: began.epoch,
    message: `samples are near-copies of training pictures since epoch ${began.epoch} (step ${began.step}): ${closest.sample} differs from ${closest.nearestImage} in ${closest.distanceBits} of 64 hash bits`,
    hint: `train fewer epochs (about ${keepEpochs}), or add pictures or augmentation (\`random_flip: true\`, \`crop: random\` with \`crop_scale: 0.85\`, \`color_jitter: 0.05\`); \`early_stop: overfitting\` stops there`,
    data: {
      started_step: began.step,
      started_epoch: began.epoch,
      suggested_epochs: keepEpochs,
      distance_bits: closest.distanceBits,
      threshold_bits: thresholdBits,
      sample: closest.sample,
      nearest_image: closest.nearestImage,
    },
  };
}

/** Whether `early_stop` asks to stop the run for this finding. */
export function shouldStopFor(finding: Finding, earlyStop: 'off' | 'plateau' | 'overfitting' | 'any'): boolean {
  if (finding.code !== 'plateau' && finding.code !== 'overfitting') return false;
  return earlyStop === 'any' || earlyStop === finding.code;
}

/** The one terminal line per finding: `warning: <message> (hint: <hint>)`. */
export function formatFinding(finding: Finding): string {
  return `warning: ${finding.message} (hint: ${finding.hint})`;
}
