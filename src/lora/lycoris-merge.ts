// A LoHa, LoKr or DoRA file as a merge input: each module's full weight change (and DoRA magnitude), named the way
// checkpoint-targets.ts looks weights up. Pure.
import type { BaseFamily } from './kohya-keys.js';
import { LoraFileError } from './lora-file-error.js';
import { doraMagnitude, moduleDelta } from './lycoris-delta.js';
import { readLycorisModules, type LycorisModuleSet } from './lycoris-modules.js';
import type { DenseFactors, LoraToMerge } from './merge-plan.js';
import type { SafetensorsContent } from './safetensors.js';

export function lycorisToMerge(
  content: SafetensorsContent,
  options: { fileName: string; weight: number; fallbackFamily: BaseFamily },
): LoraToMerge {
  const { fileName, weight } = options;
  const { set, isFamilyKnown } = readWithFallback(content, fileName, options.fallbackFamily);
  const dense: DenseFactors[] = set.modules.map((module) => {
    const delta = moduleDelta(module, fileName);
    const magnitude = doraMagnitude(module, delta, fileName);
    return { name: module.kohyaName, lookupName: module.lookupName, delta, ...(magnitude ? { magnitude } : {}) };
  });
  const modelHash = content.metadata.sshs_model_hash;
  return {
    fileName,
    weight,
    modules: [],
    dense,
    ...(isFamilyKnown && set.family ? { family: set.family, familyBasis: set.familyBasis } : {}),
    ...(modelHash ? { modelHash } : {}),
  };
}

/** A file that cannot tell its family is read with the checkpoint's; the shape checks then catch a wrong one. */
function readWithFallback(
  content: SafetensorsContent,
  fileName: string,
  fallback: BaseFamily,
): { set: LycorisModuleSet; isFamilyKnown: boolean } {
  try {
    const set = readLycorisModules(content, { fileName });
    return { set, isFamilyKnown: !set.familyBasis.includes('named alike') };
  } catch (error) {
    if (!(error instanceof LoraFileError) || error.code !== 'family_unknown') throw error;
    return { set: readLycorisModules(content, { fileName, family: fallback }), isFamilyKnown: false };
  }
}
