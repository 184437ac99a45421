// The per-key facts kept in the schema's metadata, and the lists derived from them.
import { describe, expect, it } from 'vitest';
import { parseFlagValue } from '../cli/overrides.js';
import { describeAllowed, renderConfigReference } from './reference.js';
import { AUTO_KEYS, LIST_KEYS, RESUME_FREE_KEYS, RESUME_FREE_REASONS, TARGET_PRESETS, metaOf } from './schema.js';

describe('facts derived from the schema', () => {
  it('finds the keys that take a number or `auto`, not the modes that include `auto`', () => {
    expect(AUTO_KEYS).toEqual(['lora_rank', 'batch_size', 'epochs', 'learning_rate']);
    expect(describeAllowed('epochs')).toBe('an integer from 1 to 100000 or `auto`');
  });

  it('lists the keys that may change on resume, each with one of the known reasons', () => {
    expect(RESUME_FREE_KEYS).toContain('epochs');
    expect(RESUME_FREE_KEYS).toContain('cache_latents');
    for (const bound of ['lora_rank', 'learning_rate', 'seed', 'cpu_kernels', 'resolution'] as const)
      expect(RESUME_FREE_KEYS).not.toContain(bound);
    const reasons = Object.values(RESUME_FREE_REASONS) as string[];
    for (const key of RESUME_FREE_KEYS) expect(reasons).toContain(metaOf(key).resumeFree);
    expect(RESUME_FREE_KEYS).toHaveLength(25);
  });

  it('shows the resume facts and the presets in the reference', () => {
    const table = renderConfigReference();
    expect(table).toMatch(/\| `epochs` \|.*_\(may change on resume: sets how long the run goes on\)_ \|/);
    expect(table).not.toMatch(/\| `lora_rank` \|.*may change on resume/);
    expect(describeAllowed('target_modules')).toBe(
      `a text value or a list of text values (presets ${TARGET_PRESETS.map((p) => `\`${p}\``).join(', ')})`,
    );
  });

  it('knows which keys are lists, and which flag values split at commas', () => {
    expect(LIST_KEYS).toEqual(['target_modules', 'unet_block_lr', 'unet_block_rank', 'sample_prompts']);
    expect(parseFlagValue('unet_block_lr', 'up_blocks.3=0.5,mid_block=0')).toEqual(['up_blocks.3=0.5', 'mid_block=0']);
    expect(parseFlagValue('target_modules', 'q_proj, v_proj')).toEqual(['q_proj', 'v_proj']);
    expect(parseFlagValue('sample_prompts', 'a bridge, misty')).toEqual(['a bridge, misty']);
    expect(parseFlagValue('sample_prompts', '[a, b]')).toEqual(['a', 'b']);
    expect(parseFlagValue('lora_rank', '8')).toBe(8);
  });
});
