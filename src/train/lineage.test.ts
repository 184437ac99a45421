// A continued LoRA's lineage: the parent from its own metadata, the parent's ancestors carried over.
import { describe, expect, it } from 'vitest';
import { buildLineage, LINEAGE_METADATA_KEY } from './lineage.js';

const snow = [{ name: 'snow', images: 8, sha256: 's' }];

describe('buildLineage', () => {
  it('a new LoRA has no parent', () => {
    expect(buildLineage(null, snow, 40)).toEqual({ parent_lora: null, ancestors: [], datasets: snow, steps: 40 });
  });

  it('a foreign parent is named by file and hash, with the steps its ss_ metadata gives', () => {
    const lineage = buildLineage(
      { file: 'x.safetensors', sha256: 'h', metadata: { ss_steps: '1200', ss_output_name: 'x' } },
      snow,
      40,
    );
    expect(lineage.parent_lora).toEqual({
      file: 'x.safetensors',
      sha256: 'h',
      output_name: 'x',
      steps: 1200,
      datasets: null,
    });
    expect(lineage.ancestors).toEqual([]);
  });

  it('a parent of ours passes on its own datasets and its parent, oldest first', () => {
    const grandparent = {
      file: 'a.safetensors',
      sha256: 'ha',
      output_name: 'a',
      steps: 100,
      datasets: [{ name: 'jiangnan', images: 40, sha256: 'j' }],
    };
    const parentLineage = {
      parent_lora: grandparent,
      ancestors: [],
      datasets: [{ name: 'mixed', images: 20, sha256: 'm' }],
      steps: 60,
    };
    const lineage = buildLineage(
      {
        file: 'b.safetensors',
        sha256: 'hb',
        metadata: { [LINEAGE_METADATA_KEY]: JSON.stringify(parentLineage), ss_output_name: 'b' },
      },
      snow,
      40,
    );
    expect(lineage.ancestors).toEqual([grandparent]);
    expect(lineage.parent_lora).toEqual({
      file: 'b.safetensors',
      sha256: 'hb',
      output_name: 'b',
      steps: 60,
      datasets: parentLineage.datasets,
    });
  });
});
