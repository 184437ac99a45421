// Public API of the lora stage: safetensors files, PEFT → kohya key names and metadata, and the conversion
// that turns the engine's LoRA into the file WebUIs load. Other folders import only from here.

/**
 * Every failure in this folder: `code` to match on, `culprit` (file or key), `hint`, and `line` to print.
 * @example
 * try { await readSafetensors(path) } catch (e) { if (e instanceof LoraFileError) console.error(`error: ${e.line}`) }
 */
export { LoraFileError } from './lora-file-error.js';

/**
 * Reads a whole .safetensors file, validated like the reference reader; tensor data are views into one Buffer.
 * @example
 * const { metadata, tensors } = await readSafetensors('out/jiangnan.safetensors');
 * tensors.get('lora_unet_mid_block_attentions_0_proj_in.alpha') // { dtype: 'F32', shape: [], data }
 */
export { readSafetensors } from './safetensors-file.js';

/**
 * Reads only the header, from bytes or from an open file descriptor (never reads the tensors).
 * @example
 * const fd = openSync(path, 'r');
 * const { metadata, tensors } = readSafetensorsHeader(fd, path); // tensors: name → { dtype, shape, dataOffsets }
 */
export { readSafetensorsHeader } from './safetensors-file.js';

/**
 * Serializes like Python's safetensors and writes through a temp file + fsync + rename.
 * @example
 * await writeSafetensorsAtomic('out/x.safetensors', { metadata: { ss_network_dim: '16' }, tensors });
 */
export { writeSafetensorsAtomic } from './safetensors-file.js';

/**
 * The in-memory format: `serializeSafetensors` gives the exact bytes Python's writer would; `parseSafetensors`
 * validates bytes you already hold.
 * @example
 * const bytes = serializeSafetensors({ metadata: {}, tensors: new Map([['x.alpha', { dtype: 'F32', shape: [], data }]]) });
 * parseSafetensors(bytes, 'x.safetensors').tensors.get('x.alpha')?.shape // []
 */
export {
  parseSafetensors,
  serializeSafetensors,
  type Dtype,
  type SafetensorsContent,
  type SafetensorsFile,
  type SafetensorsHeader,
  type Tensor,
  type TensorInfo,
} from './safetensors.js';

/**
 * A PEFT/diffusers LoRA key → its kohya name (SDXL UNet names are converted to sd-scripts' LDM layout).
 * @example
 * peftKeyToKohya('unet.down_blocks.1.attentions.0.proj_in.lora_A.weight', 'sdxl')
 * // 'lora_unet_input_blocks_4_1_proj_in.lora_down.weight'
 * peftKeyToKohya('text_encoder.encoder.layers.0.self_attn.q_proj.lora_B.weight', 'sd1')
 * // 'lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight'
 */
export { peftKeyToKohya, type BaseFamily, type LoraComponent } from './kohya-keys.js';

/**
 * The `ss_*` + `modelspec.*` metadata sd-scripts writes, as Python-formatted strings (hashes excluded).
 * @example
 * const metadata = buildKohyaMetadata({ outputName: 'jiangnan', family: 'sd1', predictionType: 'epsilon', networkDim: 16, networkAlpha: 16, … });
 * metadata.ss_network_alpha // '16.0'
 */
export {
  buildKohyaMetadata,
  baseModelVersion,
  kohyaMixedPrecision,
  kohyaOptimizer,
  type BaseModelVersion,
  type BucketFacts,
  type KohyaMetadataInput,
  type ModelspecFacts,
  type PredictionType,
} from './kohya-metadata.js';

/**
 * Python's `str(float)`, for any value that must read as sd-scripts writes it.
 * @example
 * pythonFloatString(1e-5) // '1e-05'
 * pythonFloatString(1) // '1.0'
 */
export { pythonFloatString } from './python-format.js';

/**
 * Converts the engine's `pytorch_lora_weights.safetensors` into the kohya/WebUI file: keys renamed, an `.alpha`
 * per module from `lora_adapter_metadata`, weight bytes copied as they are, `sshs_*` hashes added, written atomically.
 * @example
 * const summary = await convertPeftFileToKohya({ input: 'out/checkpoints/step-600/pytorch_lora_weights.safetensors', output: 'out/jiangnan.safetensors', family: 'sd1', metadata });
 * summary.modelHash.slice(0, 12) // the hash A1111 shows for the LoRA
 */
export { convertPeftFileToKohya, type ConvertOptions, type ConvertSummary } from './to-kohya.js';
export type { AlphaDtype } from './alpha-tensor.js';
export type { AlphaSource } from './peft-to-kohya.js';

/**
 * A1111's "addnet" hash of any safetensors file in memory: sha256 of its data buffer.
 * @example
 * addnetHash(readFileSync('out/jiangnan.safetensors')) === metadata.sshs_model_hash // true for our files
 */
export { addnetHash, LEGACY_WINDOW } from './sshs-hashes.js';

/**
 * Merges LoRAs (kohya or PEFT files, each with a weight) into a single-file checkpoint, streamed tensor by tensor:
 * same layout and dtypes, untouched tensors copied byte for byte, a `lora_scripts.merged_loras` record added.
 * @example
 * await mergeLorasIntoCheckpoint({ base: 'sd15.safetensors', loras: [{ path: 'jiangnan.safetensors', weight: 0.8 }], output: 'merged.safetensors' });
 */
export { mergeLorasIntoCheckpoint, type MergeOptions, type MergeSummary } from './merge-checkpoint.js';

/**
 * Merges Flux.1 LoRAs (kohya, diffusers or ComfyUI names) into a Flux transformer file in BFL layout, streamed.
 * @example
 * await mergeLorasIntoFlux({ base: 'flux1-dev.safetensors', loras: [{ path: 'style.safetensors', weight: 1 }], output: 'merged.safetensors' });
 */
export { mergeLorasIntoFlux } from './flux-merge.js';

/**
 * Lowers a LoRA's rank by SVD (`rank`, and/or the smallest rank keeping `energy` of each layer's ‖ΔW‖²), or combines
 * LoRAs into one (exact rank concatenation, or SVD to `rank`). Both write kohya files and report energy per layer.
 * @example
 * const { report } = await resizeLoraFile({ input: 'a.safetensors', output: 'a-r8.safetensors', rank: 8 });
 * await combineLoraFiles({ inputs: [{ path: 'a.safetensors', weight: 0.5 }, { path: 'b.safetensors', weight: 0.5 }], output: 'ab.safetensors' });
 */
export {
  combineLoraFiles,
  resizeLoraFile,
  type CombineOptions,
  type RankFileResult,
  type ResizeOptions,
} from './rank-files.js';
export type { RankReport } from './rank-edit.js';

/**
 * Any LoRA file (kohya, diffusers/PEFT incl. the older `lora.down` / attn-processor spellings) as one module list:
 * diffusers path, kohya name, down/up tensors (the file's bytes), rank and alpha. Use it to read LoRAs for
 * merging, combining, resizing; it refuses LyCORIS LoHa/LoKr/DoRA and unknown keys with an error naming the key.
 * @example
 * const { family, modules } = readLoraModules(await readSafetensors(path), { fileName: path });
 * modules[0] // { component: 'unet', path: 'down_blocks.0.attentions.0.proj_in', kohyaName: 'lora_unet_down_blocks_0_attentions_0_proj_in', rank: 16, alpha: 8, down, up, … }
 */
export { readLoraModules, type LoraModule, type LoraModuleSet, type ReadLoraModulesOptions } from './lora-modules.js';

/**
 * Key format, LyCORIS variant, modules and base family from tensor names and shapes alone (a header is enough).
 * @example
 * const { modules } = groupModules(header.tensors);
 * detectFormat([...header.tensors.keys()], modules) // { name: 'kohya', variant: 'LoCon', isConvertible: true }
 * detectFamily(modules, header.tensors, header.metadata) // { family: 'sdxl', basis: 'second text encoder (…)' }
 */
export {
  detectFamily,
  detectFormat,
  groupModules,
  type FamilyGuess,
  type HeaderModule,
  type LoraFormat,
  type ModuleKind,
} from './lora-format.js';

/**
 * kohya module name → the diffusers module it adapts (SDXL LDM names included); unknown names are refused.
 * @example
 * kohyaModulePath('lora_unet_input_blocks_4_1_proj_in') // { component: 'unet', path: 'down_blocks.1.attentions.0.proj_in', unetLayout: 'ldm' }
 */
export { kohyaModulePath } from './kohya-module-path.js';

/**
 * `inspect`: reads a LoRA file's header, alphas and (streamed) hashes into a report; `formatInspectReport` prints it.
 * @example
 * const report = inspectLoraFile('out/jiangnan.safetensors');
 * report.format // { name: 'kohya', variant: 'LoRA', isConvertible: true }; report.hashes?.webuiLoraHash // '0477f3960759'
 */
export { inspectLoraFile, type InspectFileOptions } from './inspect-file.js';
export { inspectLora, type InspectReport, type ModuleReport, type HashReport, type FileHashes } from './inspect.js';
export { formatInspectReport } from './inspect-text.js';

/**
 * `convert`: kohya ⇄ diffusers/PEFT, weights byte for byte, alphas kept (kohya → diffusers → kohya is lossless),
 * metadata carried over, written atomically; refuses to overwrite its input.
 * @example
 * await convertLoraFile({ input: 'a.safetensors', output: 'a-diffusers.safetensors', to: 'diffusers' })
 */
export {
  convertLoraFile,
  type ConvertLoraOptions,
  type ConvertLoraSummary,
  type LoraKeyFormat,
} from './convert-lora-file.js';

/**
 * What a LoRA file trains, from its tensor names (a header is enough): `lora` (LoRA/LoCon), `loha`, `lokr`, `dora`.
 * LoHa, LoKr and DoRA are written in LyCORIS' kohya layout, merged exactly, and refused by combine/resize
 * (docs/formats/lycoris.md).
 * @example
 * networkTypeOf(header.tensors.keys()) // 'loha' for `lora_unet_….hada_w1_a` or `unet.….hada_w1_a` keys
 */
export { networkTypeOf, type NetworkType } from './lycoris-modules.js';
