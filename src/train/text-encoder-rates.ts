// `train_text_encoder` with the rates that would leave it nothing to train. The schema refuses every rate at 0; only
// the base's family tells that SD 1.x/2.x have one encoder, so `text_encoder_lr: 0` there freezes them all.
import type { ResolvedConfig } from '../config/index.js';
import type { ModelFamily } from '../checkpoint/index.js';
import { ConfigError } from '../errors.js';

/** Throws when `train_text_encoder` is on but the base's only text encoder has rate 0. */
export function checkTextEncoderRates(
  config: Pick<ResolvedConfig, 'train_text_encoder' | 'text_encoder_lr'>,
  family: ModelFamily | null,
): void {
  if (!config.train_text_encoder || config.text_encoder_lr > 0) return;
  if (family !== 'sd1' && family !== 'sd2') return;
  throw new ConfigError(
    '`text_encoder_lr: 0` freezes the only text encoder of an SD 1.x/2.x base, yet `train_text_encoder` is on',
    {
      code: 'text_encoder_frozen',
      culprit: 'text_encoder_lr',
      hint: 'set `train_text_encoder: false`, or give `text_encoder_lr` a rate (e.g. 5e-5); `text_encoder_2_lr` is for SDXL',
    },
  );
}
