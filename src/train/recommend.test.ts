import { describe, expect, it } from 'vitest';
import { formatRecommendation, recommendTraining, type DeviceFacts } from './recommend.js';

const CPU: DeviceFacts = { kind: 'cpu', memoryGiB: 24 };
const GPU_24: DeviceFacts = { kind: 'cuda', memoryGiB: 24, name: 'RTX 4090' };

describe('recommendTraining', () => {
  it('50 simple pictures: a small rank, 20 epochs', () => {
    const { values, reasons } = recommendTraining({
      dataset: { images: 50, imagesPerEpoch: 50, detail: 0.03 },
      device: CPU,
      resolutionPx: 512,
      isSdxl: false,
    });
    expect(values).toEqual({ lora_rank: 8, epochs: 20, batch_size: 1, learning_rate: 1e-4 });
    expect(reasons.find((r) => r.key === 'lora_rank')?.reason).toBe(
      'simple motifs (detail 0.03 < 0.06): 4–8 is enough',
    );
    expect(reasons.find((r) => r.key === 'batch_size')?.reason).toMatch(/^no GPU/);
  });

  it('a Flux base: rank 16, lr 1e-4 and batch 1 whatever the pictures and GPU; a 24 GiB card is told it is short', () => {
    const { values, reasons } = recommendTraining({
      dataset: { images: 40, imagesPerEpoch: 40, detail: 0.02 },
      device: GPU_24,
      resolutionPx: 1024,
      isSdxl: false,
      isFlux: true,
    });
    expect(values).toEqual({ lora_rank: 16, epochs: 20, batch_size: 1, learning_rate: 1e-4 });
    expect(reasons.find((r) => r.key === 'batch_size')?.reason).toContain('too little');
  });

  it('a LoHa gets half the LoRA rank, and the reason says so; DoRA and LoKr keep it', () => {
    const input = { dataset: { images: 200, imagesPerEpoch: 200, detail: 0.2 }, device: CPU, resolutionPx: 512 };
    const loha = recommendTraining({ ...input, isSdxl: false, networkType: 'loha' });
    expect(loha.values.lora_rank).toBe(8);
    expect(loha.reasons.find((r) => r.key === 'lora_rank')?.reason).toContain('halved to 8 for `network_type: loha`');
    expect(recommendTraining({ ...input, isSdxl: false, networkType: 'dora' }).values.lora_rank).toBe(16);
    expect(recommendTraining({ ...input, isSdxl: false, networkType: 'lokr' }).values.lora_rank).toBe(16);
  });

  it('200 detailed pictures on a 24 GiB GPU: rank 16, 15 epochs, a larger batch and a scaled learning rate', () => {
    const { values, reasons } = recommendTraining({
      dataset: { images: 200, imagesPerEpoch: 200, detail: 0.2 },
      device: GPU_24,
      resolutionPx: 512,
      isSdxl: false,
    });
    // 24 GiB × 0.85 − 4 GiB leaves ~16 GiB: 10 pictures at 1.5 GiB, rounded down to a power of two.
    expect(values).toEqual({ lora_rank: 16, epochs: 15, batch_size: 8, learning_rate: 3e-4 });
    expect(reasons.find((r) => r.key === 'learning_rate')?.reason).toContain('√8');
  });

  it('SDXL at 1024 px needs more memory per picture than SD 1.5 at 512 px', () => {
    const sd15 = recommendTraining({
      dataset: { images: 200, imagesPerEpoch: 200, detail: 0.2 },
      device: { kind: 'cuda', memoryGiB: 16 },
      resolutionPx: 512,
      isSdxl: false,
    });
    const sdxl = recommendTraining({
      dataset: { images: 200, imagesPerEpoch: 200, detail: 0.2 },
      device: { kind: 'cuda', memoryGiB: 16 },
      resolutionPx: 1024,
      isSdxl: true,
    });
    expect(sd15.values.batch_size).toBe(4);
    expect(sdxl.values.batch_size).toBe(1);
  });

  it('a dozen pictures: rank 4, repeats so an epoch sees 20+ pictures, and never a batch larger than a quarter epoch', () => {
    const { values, repeats } = recommendTraining({
      dataset: { images: 12, imagesPerEpoch: 12, detail: 0.05 },
      device: GPU_24,
      resolutionPx: 512,
      isSdxl: false,
    });
    expect(values.lora_rank).toBe(4);
    expect(repeats).toBe(2);
    expect(values.batch_size).toBe(2);
  });

  it('many pictures: fewer epochs for about 3,000 picture views', () => {
    expect(
      recommendTraining({
        dataset: { images: 600, imagesPerEpoch: 600, detail: 0.2 },
        device: CPU,
        resolutionPx: 512,
        isSdxl: null,
      }).values.epochs,
    ).toBe(5);
  });

  it('advises SDXL to keep its second text encoder frozen, with the reason, as advice only', () => {
    const input = { dataset: { images: 50, imagesPerEpoch: 50, detail: 0.1 }, device: GPU_24, resolutionPx: 1024 };
    const sdxl = recommendTraining({ ...input, isSdxl: true });
    const advice = sdxl.reasons.find((r) => r.key === 'text_encoder_2_lr');
    expect(advice?.value).toBe(0);
    expect(advice?.reason).toContain('`train_text_encoder: false`');
    expect(advice?.reason).toContain('OpenCLIP bigG');
    expect(Object.keys(sdxl.values)).not.toContain('text_encoder_2_lr');
    const line = formatRecommendation(sdxl, ['lora_rank']).find((l) => l.startsWith('text_encoder_2_lr'));
    expect(line).toMatch(/^text_encoder_2_lr: 0\s+\(advice\) SDXL: keep the second text encoder/);
    expect(formatRecommendation(sdxl, ['lora_rank'], true)).toHaveLength(1);
    for (const isSdxl of [false, null]) {
      expect(recommendTraining({ ...input, isSdxl }).reasons.map((r) => r.key)).not.toContain('text_encoder_2_lr');
    }
  });

  it('marks which values apply (keys set to `auto`) and which are kept', () => {
    const recommendation = recommendTraining({
      dataset: { images: 50, imagesPerEpoch: 50, detail: 0.03 },
      device: CPU,
      resolutionPx: 512,
      isSdxl: false,
    });
    const lines = formatRecommendation(recommendation, ['epochs']);
    expect(lines[0]).toMatch(/^lora_rank: 8\s+\(not `auto`: kept\) simple motifs/);
    expect(lines[1]).toMatch(/^epochs: 20\s+\(auto: applied\) 50 pictures per epoch/);
    expect(formatRecommendation(recommendation, ['epochs'], true)).toHaveLength(1);
  });
});
