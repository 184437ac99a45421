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
export { addnetHash } from './sshs-hashes.js';
