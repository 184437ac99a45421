import { describe, expect, it } from 'vitest';
import { resolveTargetModules } from './target-modules.js';

describe('resolveTargetModules', () => {
  it('maps text-encoder style names onto the UNet attention layers', () => {
    expect(resolveTargetModules(['q_proj', 'v_proj'])).toEqual([
      { name: 'q_proj', unet: ['to_q'], text_encoder: ['self_attn.q_proj'] },
      { name: 'v_proj', unet: ['to_v'], text_encoder: ['self_attn.v_proj'] },
    ]);
  });

  it('accepts diffusers names and presets', () => {
    expect(resolveTargetModules(['to_out.0'])[0]?.unet).toEqual(['to_out.0']);
    const wide = resolveTargetModules(['attention+ff'])[0]!;
    expect(wide.unet).toEqual(['to_q', 'to_k', 'to_v', 'to_out.0', 'ff.net.0.proj', 'ff.net.2', 'proj_in', 'proj_out']);
    expect(wide.text_encoder).toContain('mlp.fc2');
  });

  it('passes other module names through and rejects malformed ones with the entry index', () => {
    expect(resolveTargetModules(['attn2.to_k'])[0]).toEqual({
      name: 'attn2.to_k',
      unet: ['attn2.to_k'],
      text_encoder: ['attn2.to_k'],
    });
    expect(() => resolveTargetModules(['to_q', 'to q'])).toThrow(
      expect.objectContaining({ culprit: 'target_modules[1]' }),
    );
  });
});
