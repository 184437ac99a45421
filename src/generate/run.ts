// `generate`'s shell: resolves prompt LoRA names to files, the base model (flag or the LoRA's own record), hashes,
// then lets the engine sample and writes every PNG with its WebUI `parameters` chunk, atomically.
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { checkBaseModel, engineFacts } from '../checkpoint/index.js';
import { isEngineReady, runEngine, setupEngine, type EngineEvent, type Env } from '../engine/index.js';
import { UsageError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { TOOL_VERSION } from '../version.js';
import { FLUX_SAMPLER, refuseFluxTransformerFile } from './flux-generate.js';
import { withEngineLoraFiles } from './lycoris-for-engine.js';
import { findLora, loraShortHash, readLoraTrainingFacts, baseModelSha256 } from './lora-files.js';
import { imageFileNames, planGeneration, type BaseModelFacts, type ResolvedLora } from './plan.js';
import {
  buildParametersText,
  PARAMETERS_KEY,
  withPngText,
  type GenerationParameters,
  type LoraHash,
} from './png-parameters.js';
import { parseNegativePrompt, parsePrompt, type LoraReference, type WeightedSegment } from './prompt.js';
import { samplingSettings } from './sampling-defaults.js';
import { chooseScheduler } from './samplers.js';

/** A LoRA given as a file (`--lora FILE:WEIGHT`) rather than by name in the prompt. */
export interface LoraFileReference {
  path: string;
  teWeight: number;
  unetWeight: number;
}

export interface GenerateOptions {
  /** One job per prompt (WebUI's "prompts from file"), each with its own `<lora:…>` tags, all on one base-model load. */
  prompts: string[];
  negativePrompt: string;
  /** Added to every prompt. */
  loraFiles: LoraFileReference[];
  /** Where `<lora:NAME>` is looked up (sub-folders included). */
  loraDirs: string[];
  /** Looked up before `loraDirs`: a name's file in the style library (its promoted version), null when it has none. */
  libraryLoras?: (name: string) => Promise<string | null>;
  /** A single-file checkpoint or diffusers folder; null: the one the first LoRA was trained on. */
  baseModel: string | null;
  /** -1 picks a random seed (printed). */
  seed: number;
  /** null: the base model's default (SD 20; Flux dev 28, schnell 4). */
  steps: number | null;
  /** null: the base model's default (SD 7; Flux dev's guidance 3.5). On Flux dev, the guidance value. */
  cfgScale: number | null;
  /** Ignored on Flux, which samples with its own FlowMatchEuler scheduler (`Euler`). */
  sampler: string;
  scheduleType: string;
  /** null: the first LoRA's training size, else 512. */
  width: number | null;
  height: number | null;
  batchCount: number;
  batchSize: number;
  outDir: string;
  /** Hashes an image was made with (`--from-png`): a different base model or LoRA file is warned about. */
  expectedHashes?: { model: string | null; loras: LoraHash[] };
  env: Env;
  verbose: boolean;
  onEvent?: (event: EngineEvent) => void;
  note: (line: string) => void;
  /** Stops the engine (a studio job's cancel); the run then rejects and writes no image. */
  stopSignal?: AbortSignal;
}

export interface GeneratedImage {
  path: string;
  parameters: GenerationParameters;
}

export interface GenerationResult {
  images: GeneratedImage[];
  baseModel: string;
  events: EngineEvent[];
}

const DEFAULT_SIZE_PX = 512;
const GENERATE_LORA_HINT =
  'give a LoRA as `--lora FILE[:WEIGHT]` or `<lora:NAME:0.7>` in the prompt, and `--base-model` the checkpoint it was trained on';
const SEED_RANGE = 2 ** 32;

export async function runGeneration(options: GenerateOptions): Promise<GenerationResult> {
  chooseScheduler(options.sampler, options.scheduleType); // a bad --sampler is one line before anything is read
  const negative = parseNegativePrompt(options.negativePrompt, '--negative-prompt');
  const culprits = options.prompts.map((_, i) => (options.prompts.length > 1 ? `--prompt #${i + 1}` : '--prompt'));
  const fromLibrary = await libraryFiles(options, culprits);
  const jobs = options.prompts.map((text, i) => promptJob(text, culprits[i]!, options, fromLibrary));
  for (const warning of [...new Set([...jobs.flatMap((j) => j.warnings), ...negative.warnings])])
    options.note(`warning: ${warning}`);
  const allLoras = jobs.flatMap((j) => j.loras);
  const base = await baseModelOf(options.baseModel, allLoras, options.note);
  const isFlux = base.engineFacts.family === 'flux';
  const scheduler = isFlux ? chooseScheduler(FLUX_SAMPLER) : chooseScheduler(options.sampler, options.scheduleType);
  const sampling = samplingSettings(base.fluxVariant, { steps: options.steps, cfgScale: options.cfgScale });
  const facts = allLoras.length > 0 ? readLoraTrainingFacts(allLoras[0]!.path) : null;
  const sizePx = facts?.resolutionPx ?? DEFAULT_SIZE_PX;
  if (options.width === null || options.height === null) {
    options.note(
      `size: ${options.width ?? sizePx}x${options.height ?? sizePx} (${facts?.resolutionPx ? `the training size of ${basename(allLoras[0]!.path)}` : 'the SD 1.x default'}; set --width/--height to change)`,
    );
  }
  if (options.expectedHashes) warnOnOtherFiles(options.expectedHashes, base, allLoras, options.note);
  const seed = options.seed === -1 ? randomInt(0, SEED_RANGE) : options.seed;
  if (options.seed === -1) options.note(`seed: ${seed} (random)`);

  mkdirSync(options.outDir, { recursive: true });
  const stagingDir = join(options.outDir, `.generate-${randomBytes(4).toString('hex')}`);
  const settings = jobs.map((job) => ({
    ...job,
    negativePrompt: options.negativePrompt,
    encoderNegativePrompt: negative.text,
    encoderNegativeSegments: negative.segments,
    scheduler,
    steps: sampling.steps,
    cfgScale: sampling.cfgScale,
    seed,
    width: options.width ?? sizePx,
    height: options.height ?? sizePx,
    batchCount: options.batchCount,
    batchSize: options.batchSize,
  }));
  const plan = planGeneration(settings, base, `lora-scripts-${TOOL_VERSION}`, stagingDir);
  if (!isEngineReady(options.env)) setupEngine({ env: options.env, log: options.note });
  try {
    const request = await withEngineLoraFiles(plan.request, stagingDir, isFlux);
    const result = await runEngine(
      { command: 'generate', options: request },
      { env: options.env, verbose: options.verbose, onEvent: options.onEvent, stopSignal: options.stopSignal },
    );
    // Names are picked only now, so two runs into one folder that overlap in time still take distinct numbers.
    const names = imageFileNames(
      readdirSync(options.outDir),
      plan.images.map((i) => i.seed),
    );
    const images = plan.images.map((image, i) => {
      const path = join(options.outDir, names[i]!);
      const png = readFileSync(join(stagingDir, image.engineFile));
      writeFileAtomic(path, withPngText(png, PARAMETERS_KEY, buildParametersText(image.parameters), path));
      return { path, parameters: image.parameters };
    });
    return { images, baseModel: base.path, events: result.events };
  } finally {
    rmSync(stagingDir, { recursive: true, force: true });
  }
}

interface PromptJob {
  /** As the PNG keeps it: the prompt as written, plus a tag per `--lora FILE`, so WebUI finds every LoRA by name. */
  prompt: string;
  encoderPrompt: string;
  encoderSegments?: WeightedSegment[];
  loras: ResolvedLora[];
  warnings: string[];
}

/** Every prompt's `<lora:NAME>` the style library has a file for (asked once per name, before any folder). */
async function libraryFiles(options: GenerateOptions, culprits: string[]): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  if (!options.libraryLoras) return files;
  const names = new Set(options.prompts.flatMap((text, i) => parsePrompt(text, culprits[i]!).loras.map((l) => l.name)));
  for (const name of names) {
    const path = await options.libraryLoras(name);
    if (path !== null) files.set(name, path);
  }
  return files;
}

function promptJob(
  text: string,
  culprit: string,
  options: GenerateOptions,
  fromLibrary: ReadonlyMap<string, string>,
): PromptJob {
  const parsed = parsePrompt(text, culprit);
  const fromFlags = options.loraFiles.map(resolveLoraFile);
  const named = parsed.loras.map((ref) =>
    resolveNamedLora(ref, fromLibrary.get(ref.name) ?? null, options.loraDirs, culprit),
  );
  const loras = [...named, ...fromFlags];
  const twice = loras.find((l, i) => loras.findIndex((m) => m.path === l.path) !== i);
  if (twice)
    throw new UsageError(`\`${twice.path}\` is used twice`, {
      code: 'lora_twice',
      culprit,
      hint: 'give each LoRA once, in the prompt or as `--lora`',
    });
  return {
    prompt: [text, ...fromFlags.map(loraTag)].filter(Boolean).join(', '),
    encoderPrompt: parsed.text,
    encoderSegments: parsed.segments,
    loras,
    warnings: parsed.warnings,
  };
}

function resolveNamedLora(
  ref: LoraReference,
  libraryFile: string | null,
  loraDirs: string[],
  culprit: string,
): ResolvedLora {
  const path = libraryFile ?? findLora(ref.name, loraDirs, culprit).path;
  return { path, name: ref.name, teWeight: ref.teWeight, unetWeight: ref.unetWeight, hash: loraShortHash(path) };
}

function resolveLoraFile(ref: LoraFileReference): ResolvedLora {
  return { ...ref, name: basename(ref.path, extname(ref.path)), hash: loraShortHash(ref.path) };
}

function loraTag(lora: ResolvedLora): string {
  const weights = lora.teWeight === lora.unetWeight ? `${lora.teWeight}` : `${lora.teWeight}:${lora.unetWeight}`;
  return `<lora:${lora.name}:${weights}>`;
}

/** `--base-model`, else the base model recorded beside the first LoRA; says which, and warns on a mismatch. */
async function baseModelOf(
  flag: string | null,
  loras: ResolvedLora[],
  note: (line: string) => void,
): Promise<BaseModelFacts> {
  const distinct = [...new Map(loras.map((l) => [l.path, l])).values()];
  const trainedOn = distinct.map((l) => ({ lora: l, facts: readLoraTrainingFacts(l.path) }));
  let path = flag;
  if (path === null) {
    const known = trainedOn.find((t) => t.facts.baseModelPath !== null);
    if (!known) {
      const named = trainedOn.find((t) => t.facts.baseModelName)?.facts.baseModelName;
      throw new UsageError(
        loras.length === 0
          ? 'no base model given'
          : `the LoRAs do not say where their base model is${named ? ` (trained on \`${named}\`)` : ''}`,
        {
          code: 'base_model_missing',
          culprit: '--base-model',
          hint: 'pass `--base-model FILE.safetensors` (any single-file SD checkpoint or diffusers folder)',
        },
      );
    }
    path = known.facts.baseModelPath!;
    note(`base model: ${path} (recorded in lora_scripts.json beside ${basename(known.lora.path)})`);
  }
  if (!existsSync(path))
    throw new UsageError(`the base model \`${path}\` does not exist`, {
      code: 'base_model_missing',
      culprit: '--base-model',
    });
  // Before the base model is hashed or Python starts: a LoRA, a VAE or a cut-off file is one line at once.
  const verdict = checkBaseModel(path, { culprit: path, loraHint: GENERATE_LORA_HINT });
  if (verdict.family === 'flux' && verdict.layout === 'single-file') refuseFluxTransformerFile(path);
  const sha256 = await baseModelSha256(path);
  for (const { lora, facts } of trainedOn) {
    if (sha256 && facts.baseModelSha256 && facts.baseModelSha256 !== sha256) {
      note(
        `warning: ${basename(lora.path)} was trained on another base model (${facts.baseModelName ?? facts.baseModelSha256.slice(0, 10)}); it may look different here`,
      );
    }
  }
  return {
    path,
    sha256,
    name: basename(path, extname(path)),
    engineFacts: engineFacts(verdict),
    ...(verdict.fluxVariant ? { fluxVariant: verdict.fluxVariant } : {}),
  };
}

/** The same names and settings on other files make other pictures: say so rather than let a re-run look broken. */
function warnOnOtherFiles(
  expected: { model: string | null; loras: LoraHash[] },
  base: BaseModelFacts,
  loras: ResolvedLora[],
  note: (line: string) => void,
): void {
  const modelHash = base.sha256?.slice(0, 10);
  if (expected.model && modelHash && expected.model !== modelHash)
    note(`warning: the image was made with base model hash ${expected.model}; ${base.name} is ${modelHash}`);
  for (const { name, hash } of expected.loras) {
    const lora = loras.find((l) => l.name.replace(/[:,]/g, '') === name);
    if (lora && lora.hash !== hash)
      note(`warning: the image was made with LoRA \`${name}\` hash ${hash}; ${lora.path} is ${lora.hash}`);
  }
}
