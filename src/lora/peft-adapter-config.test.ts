// Reading lora_adapter_metadata and resolving each module's rank and kohya alpha the way PEFT does.
import { describe, expect, it } from 'vitest';
import { moduleScale, parseAdapterMetadata } from './peft-adapter-config.js';

const adapterJson = (fields: Record<string, unknown>) => JSON.stringify(fields);

describe('parseAdapterMetadata', () => {
  it('splits the flat keys per component and ignores LoraConfig fields that do not scale weights', () => {
    const configs = parseAdapterMetadata(
      adapterJson({
        'unet.r': 16,
        'unet.lora_alpha': 32,
        'unet.rank_pattern': {},
        'unet.alpha_pattern': { 'attn1.to_q': 8 },
        'unet.target_modules': ['to_q'],
        'text_encoder_2.r': 4,
        'text_encoder_2.lora_alpha': 4,
        'text_encoder_2.rank_pattern': null,
      }),
      'f',
    );
    expect(configs).toEqual({
      unet: { r: 16, loraAlpha: 32, rankPattern: {}, alphaPattern: { 'attn1.to_q': 8 }, useRslora: false },
      text_encoder_2: { r: 4, loraAlpha: 4, rankPattern: {}, alphaPattern: {}, useRslora: false },
    });
    expect(parseAdapterMetadata(undefined, 'f')).toEqual({});
  });

  it('names the bad field, and refuses DoRA', () => {
    const bad = () => parseAdapterMetadata(adapterJson({ 'unet.r': 16, 'unet.lora_alpha': 'lots' }), 'f.safetensors');
    expect(bad).toThrow(
      expect.objectContaining({
        code: 'invalid_adapter_metadata',
        line: 'f.safetensors: `lora_adapter_metadata` field `unet.lora_alpha` is invalid: Invalid input: expected number, received string',
      }),
    );
    expect(() => parseAdapterMetadata('{', 'f')).toThrow('`lora_adapter_metadata` is not JSON');
    expect(() =>
      parseAdapterMetadata(adapterJson({ 'unet.r': 4, 'unet.lora_alpha': 4, 'unet.use_dora': true }), 'f'),
    ).toThrow(expect.objectContaining({ code: 'dora_not_supported' }));
  });
});

describe('moduleScale', () => {
  const config = {
    r: 16,
    loraAlpha: 32,
    rankPattern: { 'attn1.to_q': 8 },
    alphaPattern: { 'down_blocks.1.attentions.0.proj_in': 4, 'to_(k|v)': 2 },
    useRslora: false,
  };

  it('takes r and lora_alpha, overridden by the first pattern matching the name after a dot', () => {
    expect(moduleScale(config, 'down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_out.0', 16, 'f')).toEqual({
      rank: 16,
      alpha: 32,
    });
    expect(moduleScale(config, 'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q', 8, 'f')).toEqual({
      rank: 8,
      alpha: 32,
    });
    expect(moduleScale(config, 'down_blocks.1.attentions.0.proj_in', 16, 'f')).toEqual({ rank: 16, alpha: 4 });
    expect(moduleScale(config, 'mid_block.attentions.0.transformer_blocks.0.attn1.to_v', 16, 'f')).toEqual({
      rank: 16,
      alpha: 2,
    });
    // Matches only at a dot boundary: `xattn1.to_q` is not `attn1.to_q`.
    expect(moduleScale(config, 'down_blocks.0.xattn1.to_q', 16, 'f')).toEqual({ rank: 16, alpha: 32 });
  });

  it('uses alpha = rank without a config, and alpha·√r for rsLoRA (kohya divides by r, rsLoRA by √r)', () => {
    expect(moduleScale(undefined, 'any', 12, 'f')).toEqual({ rank: 12, alpha: 12 });
    expect(moduleScale({ ...config, useRslora: true }, 'mid_block.attentions.0.proj_out', 16, 'f')).toEqual({
      rank: 16,
      alpha: 128,
    });
  });

  it('rejects a pattern that is not a regular expression', () => {
    expect(() => moduleScale({ ...config, rankPattern: { 'to_q(': 4 } }, 'x.to_q', 4, 'f')).toThrow(
      'pattern `to_q(` is not a valid regular expression',
    );
  });
});
