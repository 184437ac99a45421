// `merge`: LoRAs into a single-file checkpoint, streamed. One tensor at a time is read with a positioned read,
// changed in float32 and written back in its own dtype; the rest is copied byte for byte. Memory stays near the
// largest changed tensor (as float32), never the checkpoint.
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { InterruptedError } from '../errors.js';
import { writeThroughTempFileAsync } from '../fs/atomic-write.js';
import type { BaseFamily } from './kohya-keys.js';
import { checkpointTargets, familyName } from './checkpoint-targets.js';
import { decodeFloats, encodeFloats, type FloatDtype } from './float-codec.js';
import { fluxLoraNaming } from './flux-lora-file.js';
import { readLoraFactors } from './lora-factors.js';
import { LoraFileError } from './lora-file-error.js';
import { addProduct } from './low-rank.js';
import { addDelta } from './lycoris-delta.js';
import { lycorisToMerge } from './lycoris-merge.js';
import { isLycorisNetwork, networkTypeOf } from './lycoris-modules.js';
import { planMerge, type Contribution, type LoraToMerge } from './merge-plan.js';
import { serializeSafetensorsHeader, type SafetensorsHeader, type TensorInfo } from './safetensors.js';
import { readSafetensors, readSafetensorsHeader } from './safetensors-file.js';

export interface MergeOptions {
  /** The base model: a single-file .safetensors checkpoint (never modified). */
  base: string;
  /** Its family, from src/checkpoint's verdict (`checkBaseModel`), which the caller runs first. */
  baseFamily: BaseFamily;
  loras: ReadonlyArray<{ path: string; weight: number }>;
  output: string;
  /** Called after each tensor written, in file order. */
  onTensor?: (done: number, total: number) => void;
  /** Stops the merge between two tensors (an InterruptedError); the output is then not written at all. */
  stopSignal?: AbortSignal;
}

export interface MergeSummary {
  family: string;
  /** Checkpoint tensors a LoRA changed, and the ones copied untouched. */
  changedTensors: number;
  copiedTensors: number;
  modules: number;
  outputBytes: number;
}

/** Metadata key holding the list of LoRAs merged into a checkpoint (appended to on each merge). */
export const MERGED_LORAS_KEY = 'lora_scripts.merged_loras';

const COPY_CHUNK_BYTES = 16 * 1024 * 1024;

export async function mergeLorasIntoCheckpoint(options: MergeOptions): Promise<MergeSummary> {
  return streamMerge(options, async (header) => {
    const checkpoint = checkpointTargets(header.tensors, options.baseFamily);
    const loras = await readLorasToMerge(options.loras, checkpoint.family, options.base);
    const plan = planMerge(checkpoint, header.tensors, loras, options.base);
    return { familyName: familyName(checkpoint.family), plan, loras };
  });
}

/** What a merge changes, decided from the base's header: the per-tensor plan, the LoRAs read, the family's name. */
export interface PreparedMerge {
  familyName: string;
  plan: Map<string, Contribution[]>;
  loras: readonly LoraToMerge[];
}

export type StreamMergeOptions = Omit<MergeOptions, 'baseFamily'>;

/**
 * The streamed write every family's merge shares (SD here, Flux in flux-merge.ts): `prepare` reads the LoRAs and
 * plans against the base's header, then each tensor is merged or copied in file order into a temp file renamed at
 * the end.
 */
export async function streamMerge(
  options: StreamMergeOptions,
  prepare: (header: SafetensorsHeader) => Promise<PreparedMerge>,
): Promise<MergeSummary> {
  checkPaths(options);
  const fd = openFile(options.base);
  const source = { fd, path: options.base };
  try {
    const header = readSafetensorsHeader(fd, options.base);
    const { familyName: family, plan, loras } = await prepare(header);
    const metadata = { ...header.metadata, [MERGED_LORAS_KEY]: mergedRecord(header.metadata[MERGED_LORAS_KEY], loras) };
    // Same tensors at the same offsets: only the header's metadata differs, so sizes never change.
    const ordered = [...header.tensors].sort(([, a], [, b]) => a.dataOffsets[0] - b.dataOffsets[0]);
    const outputBytes = await writeThroughTempFileAsync(options.output, async (out) => {
      let written = writeAll(out, serializeSafetensorsHeader(metadata, ordered));
      for (const [index, [key, info]] of ordered.entries()) {
        const position = header.dataStartBytes + info.dataOffsets[0];
        const contributions = plan.get(key);
        written += contributions
          ? writeAll(out, mergedTensor(source, position, info, contributions))
          : copyBytes(source, out, position, info.dataOffsets[1] - info.dataOffsets[0]);
        options.onTensor?.(index + 1, ordered.length);
        // One tensor at a time, the event loop in between: a server merging a 2 GB checkpoint still answers.
        await new Promise((done) => setImmediate(done));
        if (options.stopSignal?.aborted)
          throw new InterruptedError('stopped; nothing was written', { code: 'interrupted' });
      }
      return written;
    });
    return {
      family,
      changedTensors: plan.size,
      copiedTensors: ordered.length - plan.size,
      modules: loras.reduce((n, l) => n + l.modules.length + (l.dense?.length ?? 0), 0),
      outputBytes,
    };
  } finally {
    closeSync(fd);
  }
}

async function readLorasToMerge(
  loras: MergeOptions['loras'],
  checkpointFamily: BaseFamily,
  checkpointFile: string,
): Promise<LoraToMerge[]> {
  const read: LoraToMerge[] = [];
  for (const { path, weight } of loras) {
    const content = await readSafetensors(path);
    if (fluxLoraNaming(content.tensors.keys())) throw fluxLoraRefusal(path, checkpointFile, checkpointFamily);
    if (isLycorisNetwork(networkTypeOf(content.tensors.keys()))) {
      read.push(lycorisToMerge(content, { fileName: path, weight, fallbackFamily: checkpointFamily }));
      continue;
    }
    // A file that cannot tell its family is read with the checkpoint's; the shape checks then catch a wrong one.
    const set = readLoraFactors(content, { fileName: path, fallbackFamily: checkpointFamily });
    const modelHash = content.metadata.sshs_model_hash;
    const family = set.isFamilyKnown ? { family: set.family, familyBasis: set.familyBasis } : {};
    read.push({ fileName: path, weight, modules: set.modules, ...family, ...(modelHash ? { modelHash } : {}) });
  }
  return read;
}

function fluxLoraRefusal(lora: string, checkpointFile: string, family: BaseFamily): LoraFileError {
  return new LoraFileError(
    `is a Flux.1 LoRA (\`double_blocks\`/\`single_blocks\` modules), but \`${checkpointFile}\` is an ${familyName(family)} checkpoint`,
    {
      code: 'lora_family_mismatch',
      culprit: lora,
      hint: 'merge it into a Flux transformer file (flux1-dev.safetensors, BFL layout)',
    },
  );
}

function checkPaths({ base, loras, output }: StreamMergeOptions): void {
  const inputs = [base, ...loras.map((l) => l.path)].map((p) => resolve(p));
  if (inputs.includes(resolve(output))) {
    throw new LoraFileError('is also an input; the output must be a new file (originals are never modified)', {
      code: 'output_is_input',
      culprit: output,
      hint: 'choose another `--out` path',
    });
  }
}

function openFile(path: string): number {
  try {
    return openSync(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new LoraFileError('no such file', { code: 'file_not_found', culprit: path, hint: 'check the path' });
  }
}

/** Reads one tensor, adds every contribution in float32, and returns its bytes in the tensor's own dtype. */
interface Source {
  fd: number;
  path: string;
}

function mergedTensor(
  source: Source,
  position: number,
  info: TensorInfo,
  contributions: readonly Contribution[],
): Uint8Array {
  const dtype = info.dtype as FloatDtype; // planMerge refused any other
  const weights = decodeFloats(dtype, readAt(source, info.dataOffsets[1] - info.dataOffsets[0], position));
  const cols = info.shape.slice(1).reduce((n, d) => n * d, 1);
  for (const term of contributions) {
    if ('delta' in term) addDelta(weights, cols, term.delta, term.strength, term.rowOffset, term.magnitude);
    else addProduct(weights, cols, term.up, term.down, term.scale, term.rowOffset);
  }
  return encodeFloats(dtype, weights);
}

function readAt(source: Source, length: number, position: number): Uint8Array {
  const buffer = Buffer.allocUnsafe(length);
  for (let done = 0; done < length; ) {
    const read = readSync(source.fd, buffer, done, length - done, position + done);
    if (read === 0) throw truncated(source, position + done);
    done += read;
  }
  return buffer;
}

let copyBuffer: Buffer | undefined;

function copyBytes(source: Source, to: number, position: number, length: number): number {
  copyBuffer ??= Buffer.allocUnsafe(COPY_CHUNK_BYTES);
  for (let done = 0; done < length; ) {
    const size = Math.min(COPY_CHUNK_BYTES, length - done);
    const read = readSync(source.fd, copyBuffer, 0, size, position + done);
    if (read === 0) throw truncated(source, position + done);
    writeAll(to, copyBuffer.subarray(0, read));
    done += read;
  }
  return length;
}

function truncated(source: Source, position: number): LoraFileError {
  return new LoraFileError(`ended at byte ${position}, inside a tensor`, {
    code: 'file_truncated',
    culprit: source.path,
    hint: 'the file changed while merging or is damaged; copy or download it again',
  });
}

function writeAll(fd: number, bytes: Uint8Array): number {
  for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset, bytes.length - offset);
  return bytes.length;
}

/** JSON list of every LoRA merged so far: earlier merges' records, then these. */
function mergedRecord(earlier: string | undefined, loras: readonly LoraToMerge[]): string {
  let records: unknown[] = [];
  try {
    const parsed: unknown = earlier === undefined ? [] : JSON.parse(earlier);
    records = Array.isArray(parsed) ? parsed : [];
  } catch {
    records = []; // someone else's value under our key: replaced by a valid list
  }
  for (const lora of loras) {
    records.push({
      file: basename(lora.fileName),
      weight: lora.weight,
      modules: lora.modules.length + (lora.dense?.length ?? 0),
      ...(lora.modelHash ? { sshs_model_hash: lora.modelHash } : {}),
    });
  }
  return JSON.stringify(records);
}
