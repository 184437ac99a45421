import { describe, expect, it } from 'vitest';
import { checkTextEncoderRates } from './text-encoder-rates.js';

describe('checkTextEncoderRates', () => {
  it('refuses train_text_encoder with the only encoder of an SD 1.x/2.x base at rate 0, naming text_encoder_lr', () => {
    for (const family of ['sd1', 'sd2'] as const) {
      expect(() => checkTextEncoderRates({ train_text_encoder: true, text_encoder_lr: 0 }, family)).toThrow(
        expect.objectContaining({ culprit: 'text_encoder_lr', code: 'text_encoder_frozen' }),
      );
    }
  });

  it('lets SDXL freeze its first encoder (the second trains) and leaves runs without text encoders alone', () => {
    expect(() => checkTextEncoderRates({ train_text_encoder: true, text_encoder_lr: 0 }, 'sdxl')).not.toThrow();
    expect(() => checkTextEncoderRates({ train_text_encoder: false, text_encoder_lr: 0 }, 'sd1')).not.toThrow();
    expect(() => checkTextEncoderRates({ train_text_encoder: true, text_encoder_lr: 5e-5 }, 'sd1')).not.toThrow();
  });
});
