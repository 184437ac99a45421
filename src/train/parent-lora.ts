// Reads the `init_lora` file before training: refuses anything that is not a plain LoRA, and gathers what the
// engine and the lineage need (base family, layer count, hash, metadata).
import { closeSync, openSync } from 'node:fs';
import { basename } from 'node:path';
import { detectFamily, detectFormat, groupModules, readSafetensorsHeader, type BaseFamily } from '../lora/index.js';
import { ConfigError } from '../errors.js';
import type { ParentFacts } from './lineage.js';
import { sha256OfFile } from '../fs/file-hash.js';

export interface ParentLora extends ParentFacts {
  /** The base family the file fits, or undefined when neither layers nor metadata tell (tiny test models). */
  family: BaseFamily | undefined;
  layers: number;
}

export async function readParentLora(path: string): Promise<ParentLora> {
  const fd = openSync(path, 'r');
  let header: ReturnType<typeof readHeaderAsInitLora>;
  try {
    header = readHeaderAsInitLora(fd, path);
  } finally {
    closeSync(fd);
  }
  const { modules } = groupModules(header.tensors);
  const format = detectFormat([...header.tensors.keys()], modules, header.metadata.ss_network_module);
  const isPlainLora =
    (format.name === 'kohya' || format.name === 'diffusers') &&
    format.isConvertible &&
    modules.every((m) => m.kind === 'lora');
  if (!isPlainLora) {
    const what =
      format.name === 'checkpoint'
        ? 'a base model checkpoint'
        : format.name === 'unknown'
          ? 'no LoRA layers'
          : `${format.name} ${format.variant}`;
    throw new ConfigError(`\`init_lora\` is not a LoRA this tool can continue (the file holds ${what})`, {
      code: 'init_lora_not_lora',
      culprit: path,
      hint: 'point `init_lora` at a kohya/WebUI or diffusers LoRA `.safetensors` (`lora-scripts inspect FILE` shows what a file holds)',
    });
  }
  const guess = detectFamily(modules, header.tensors, header.metadata);
  return {
    file: basename(path),
    sha256: await sha256OfFile(path),
    metadata: header.metadata,
    family: guess.family,
    layers: modules.length,
  };
}

function readHeaderAsInitLora(fd: number, path: string) {
  try {
    return readSafetensorsHeader(fd, path);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`\`init_lora\` is not a readable .safetensors file (${reason})`, {
      code: 'init_lora_not_lora',
      culprit: path,
      hint: 'point `init_lora` at a LoRA `.safetensors` file',
      cause: error,
    });
  }
}
