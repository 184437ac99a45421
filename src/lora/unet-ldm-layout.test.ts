// The diffusers ⇄ LDM UNet map: both directions agree on every module of SD 1.x/2.x and SDXL layouts, and the
// layout is read back from a checkpoint's keys.
import { describe, expect, it } from 'vitest';
import {
  diffusersUnetPath,
  inferUnetLayout,
  ldmUnetPath,
  SD_UNET_LAYOUT,
  sdxlUnetLayout,
  type UnetLayout,
} from './unet-ldm-layout.js';

const ATTENTION_PARTS = [
  'proj_in',
  'proj_out',
  'transformer_blocks.0.attn1.to_q',
  'transformer_blocks.0.attn2.to_out.0',
  'transformer_blocks.0.ff.net.0.proj',
];
const RESNET_PARTS = ['conv1', 'conv2', 'time_emb_proj', 'conv_shortcut'];

/** Every LoRA-adaptable diffusers module path of a UNet with this layout. */
function diffusersModules(layout: UnetLayout): string[] {
  const paths = ['conv_in', 'conv_out', 'time_embedding.linear_1', 'time_embedding.linear_2'];
  const levels = layout.downHasAttention.length;
  for (let level = 0; level < levels; level++) {
    for (const [side, layers, hasAttention] of [
      ['down_blocks', layout.layersPerBlock, layout.downHasAttention[level]],
      ['up_blocks', layout.layersPerBlock + 1, layout.upHasAttention[level]],
    ] as const) {
      for (let layer = 0; layer < layers; layer++) {
        paths.push(...RESNET_PARTS.map((p) => `${side}.${level}.resnets.${layer}.${p}`));
        if (hasAttention) paths.push(...ATTENTION_PARTS.map((p) => `${side}.${level}.attentions.${layer}.${p}`));
      }
      if (level < levels - 1)
        paths.push(`${side}.${level}.${side === 'down_blocks' ? 'downsamplers' : 'upsamplers'}.0.conv`);
    }
  }
  paths.push(
    ...ATTENTION_PARTS.map((p) => `mid_block.attentions.0.${p}`),
    ...RESNET_PARTS.map((p) => `mid_block.resnets.1.${p}`),
  );
  return paths;
}

const ldmOf = (path: string, layout: UnetLayout) => {
  const result = ldmUnetPath(path, layout);
  if ('problem' in result) throw new Error(`${path}: ${result.problem}`);
  return result.ldm;
};

describe('ldmUnetPath and diffusersUnetPath', () => {
  it.each([
    ['SD 1.x/2.x', SD_UNET_LAYOUT],
    ['SDXL', sdxlUnetLayout()],
    [
      'tiny SD (two levels, one layer per block)',
      { name: 'tiny', layersPerBlock: 1, downHasAttention: [true, false], upHasAttention: [false, true] },
    ],
  ])('are inverse on every module of the %s layout, with distinct LDM names', (_, layout) => {
    const paths = diffusersModules(layout);
    const ldm = paths.map((p) => ldmOf(p, layout));
    expect(new Set(ldm).size).toBe(paths.length);
    expect(ldm.map((l) => diffusersUnetPath(l, layout))).toEqual(paths);
  });

  it("puts SD 1.5's modules where its single-file checkpoints have them", () => {
    expect(ldmOf('down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q', SD_UNET_LAYOUT)).toBe(
      'input_blocks.1.1.transformer_blocks.0.attn1.to_q',
    );
    expect(ldmOf('up_blocks.3.attentions.2.proj_out', SD_UNET_LAYOUT)).toBe('output_blocks.11.1.proj_out');
    // Up level 0 has no attention, so its upsampler is slot 1; levels 1 and 2 put it after the attention.
    expect(ldmOf('up_blocks.0.upsamplers.0.conv', SD_UNET_LAYOUT)).toBe('output_blocks.2.1.conv');
    expect(ldmOf('up_blocks.1.upsamplers.0.conv', SD_UNET_LAYOUT)).toBe('output_blocks.5.2.conv');
    expect(ldmOf('down_blocks.2.downsamplers.0.conv', SD_UNET_LAYOUT)).toBe('input_blocks.9.0.op');
    expect(ldmUnetPath('down_blocks.3.attentions.0.proj_in', SD_UNET_LAYOUT)).toEqual({
      problem: 'not a module of an SD 1.x/2.x UNet',
    });
  });

  it('maps norms and other modules no LoRA adapts to nothing', () => {
    expect(diffusersUnetPath('input_blocks.1.0.in_layers.0', SD_UNET_LAYOUT)).toBeUndefined();
    expect(diffusersUnetPath('out.0', SD_UNET_LAYOUT)).toBeUndefined();
    expect(diffusersUnetPath('input_blocks.10.1.proj_in', SD_UNET_LAYOUT)).toBeUndefined(); // level 3 has no attention
  });
});

describe('inferUnetLayout', () => {
  it.each([
    ['SD 1.x/2.x', SD_UNET_LAYOUT],
    ['SDXL', sdxlUnetLayout()],
    ['tiny SDXL', { ...sdxlUnetLayout(1), downHasAttention: [false, true], upHasAttention: [true, false] }],
  ])('reads the %s layout back from its LDM weight keys', (_, layout) => {
    const keys = diffusersModules(layout).map((p) => `${ldmOf(p, layout)}.weight`);
    expect(inferUnetLayout(keys, layout.name)).toEqual(layout);
  });
});
