// What `generate` does differently on a Flux.1 base: its own step and guidance defaults (sampling-defaults.ts; dev is
// guidance-distilled: `--cfg-scale` is the guidance value the transformer is told; schnell takes none), one
// sampler (FlowMatchEuler, the base model's own), and kohya-named Flux LoRAs converted to diffusers names for the
// engine (diffusers' own kohya reader assumes the full 3072 width; flux-keys.ts reads any size).
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UsageError } from '../errors.js';
import { detectFluxLora, fluxKohyaToPeft } from '../lora/flux-keys.js';
import { readSafetensors, writeSafetensorsAtomic } from '../lora/safetensors-file.js';

/** The defaults table lives in sampling-defaults.ts (shared with the studio); re-exported for older importers. */
export { samplingDefaults } from './sampling-defaults.js';

/** Flux samples with its scheduler only (FlowMatchEulerDiscreteScheduler): WebUI's name for it. */
export const FLUX_SAMPLER = 'Euler';

/** A Flux transformer file has no VAE or text encoders, and generate has no `flux_components`. */
export function refuseFluxTransformerFile(path: string): never {
  throw new UsageError('is a Flux transformer file alone (no VAE, text encoders or tokenizers)', {
    code: 'flux_components_missing',
    culprit: path,
    hint: 'give `--base-model` the diffusers FLUX.1 folder (e.g. a download of black-forest-labs/FLUX.1-dev)',
  });
}

/** A kohya-named Flux LoRA as diffusers names in the staging folder; any other file is handed over as it is. */
export async function fluxEngineLoraFile(
  path: string,
  keys: readonly string[],
  stagingDir: string,
  index: number,
): Promise<string> {
  if (detectFluxLora(keys) !== 'kohya') return path;
  const folder = join(stagingDir, 'loras');
  mkdirSync(folder, { recursive: true });
  const output = join(folder, `${index}-${basename(path)}`);
  await writeSafetensorsAtomic(output, fluxKohyaToPeft(await readSafetensors(path), { fileName: path }));
  return output;
}
