// The engine renders LoHa and DoRA files in peft's layout (networks.load_saved_file); a LyCORIS (kohya-key) LoHa or
// DoRA file — what `train` writes for A1111/ComfyUI and what `<lora:NAME>` finds — is converted to that layout in
// the run's staging folder first. LoKr files have no peft form (src/lora/lycoris-to-peft.ts): the engine refuses
// them in one line that points at `lora-scripts merge`.
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { basename, join } from 'node:path';
import { convertLoraFile, networkTypeOf, readSafetensorsHeader } from '../lora/index.js';
import { fluxEngineLoraFile } from './flux-generate.js';

const KOHYA_KEY = /^lora_(unet|te[12]?)_/;

/**
 * The file to hand the engine for `path`: itself, or its peft copy under `stagingDir` for a kohya-key LoHa/DoRA
 * (`flux`: for a kohya-named Flux LoRA, flux-generate.ts).
 */
export async function engineLoraFile(path: string, stagingDir: string, index: number, flux = false): Promise<string> {
  const fd = openSync(path, 'r');
  let keys: string[];
  try {
    keys = [...readSafetensorsHeader(fd, path).tensors.keys()];
  } finally {
    closeSync(fd);
  }
  if (flux) return fluxEngineLoraFile(path, keys, stagingDir, index);
  const network = networkTypeOf(keys);
  if ((network !== 'loha' && network !== 'dora') || !keys.every((key) => KOHYA_KEY.test(key))) return path;
  const folder = join(stagingDir, 'loras');
  mkdirSync(folder, { recursive: true });
  const output = join(folder, `${index}-${basename(path)}`);
  await convertLoraFile({ input: path, output, to: 'diffusers' });
  return output;
}

/** `plan.request` with every kohya-key LoHa/DoRA path replaced by its converted copy (each file converted once). */
export async function withEngineLoraFiles<R extends { batches: Array<{ loras: Array<{ path: string }> }> }>(
  request: R,
  stagingDir: string,
  flux = false,
): Promise<R> {
  const distinct = [...new Set(request.batches.flatMap((batch) => batch.loras.map((lora) => lora.path)))];
  const files = new Map<string, string>();
  for (const [index, path] of distinct.entries()) files.set(path, await engineLoraFile(path, stagingDir, index, flux));
  return {
    ...request,
    batches: request.batches.map((batch) => ({
      ...batch,
      loras: batch.loras.map((lora) => ({ ...lora, path: files.get(lora.path) ?? lora.path })),
    })),
  };
}
