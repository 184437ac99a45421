// The style classifier, pure: multinomial logistic regression on style features, trained deterministically.
// `styleScore` = the probability it gives the target style; 0 = not at all like it, 1 = indistinguishable.

export interface StyleClassifier {
  styles: string[];
  /** Feature standardisation learnt from the training set. */
  mean: number[];
  scale: number[];
  /** weights[class][feature], bias[class] */
  weights: number[][];
  bias: number[];
}

export interface LabelledFeatures {
  style: string;
  features: number[];
}

function standardiser(rows: number[][]): { mean: number[]; scale: number[] } {
  const dims = rows[0]!.length;
  const mean = Array.from({ length: dims }, (_, d) => rows.reduce((s, r) => s + r[d]!, 0) / rows.length);
  const scale = mean.map((m, d) => {
    const variance = rows.reduce((s, r) => s + (r[d]! - m) ** 2, 0) / rows.length;
    return 1 / Math.sqrt(variance + 1e-6);
  });
  return { mean, scale };
}

function softmax(logits: number[]): number[] {
  const top = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - top));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
}

function logits(classifier: StyleClassifier, standardised: number[]): number[] {
  return classifier.weights.map((w, c) => w.reduce((s, wi, d) => s + wi * standardised[d]!, classifier.bias[c]!));
}

function standardise(classifier: Pick<StyleClassifier, 'mean' | 'scale'>, features: number[]): number[] {
  return features.map((f, d) => (f - classifier.mean[d]!) * classifier.scale[d]!);
}

/**
 * Full-batch gradient descent from zero weights: the same data always gives the same classifier.
 * The L2 penalty keeps probabilities soft, so images part-way to a style score part-way.
 */
export function trainStyleClassifier(
  examples: LabelledFeatures[],
  options = { epochs: 300, learningRate: 0.5, l2: 0.05 },
): StyleClassifier {
  const styles = [...new Set(examples.map((e) => e.style))].sort();
  const { mean, scale } = standardiser(examples.map((e) => e.features));
  const dims = mean.length;
  const classifier: StyleClassifier = {
    styles,
    mean,
    scale,
    weights: styles.map(() => new Array<number>(dims).fill(0)),
    bias: styles.map(() => 0),
  };
  const inputs = examples.map((e) => standardise(classifier, e.features));
  const targets = examples.map((e) => styles.indexOf(e.style));
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    const gradW = styles.map(() => new Array<number>(dims).fill(0));
    const gradB = styles.map(() => 0);
    inputs.forEach((x, n) => {
      const p = softmax(logits(classifier, x));
      p.forEach((pc, c) => {
        const error = pc - (c === targets[n] ? 1 : 0);
        gradB[c]! += error / inputs.length;
        for (let d = 0; d < dims; d++) gradW[c]![d]! += (error * x[d]!) / inputs.length;
      });
    });
    classifier.weights.forEach((w, c) => {
      for (let d = 0; d < dims; d++) w[d]! -= options.learningRate * (gradW[c]![d]! + options.l2 * w[d]!);
      classifier.bias[c]! -= options.learningRate * gradB[c]!;
    });
  }
  return classifier;
}

export function styleProbabilities(classifier: StyleClassifier, features: number[]): Record<string, number> {
  const p = softmax(logits(classifier, standardise(classifier, features)));
  return Object.fromEntries(classifier.styles.map((s, i) => [s, p[i]!]));
}

/** Mean probability of `style` over a set of images: the style score of a batch of generations. */
export function styleScore(classifier: StyleClassifier, style: string, featureRows: number[][]): number {
  if (!classifier.styles.includes(style)) throw new Error(`the style classifier knows no style \`${style}\``);
  return featureRows.reduce((s, f) => s + styleProbabilities(classifier, f)[style]!, 0) / featureRows.length;
}
