// Drives a training run: checks the dataset, starts the engine, shows progress, and turns each LoRA the
// engine saves into the kohya/WebUI file with its `ss_*` metadata.
import { createHash, randomInt } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, openSync, readSync, closeSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { stringify } from 'yaml';
import type { ResolvedConfig } from '../config/index.js';
import { checkTrainingDataset, datasetDirs, readDataset, tagFrequency, writeManifest, type MeasuredItem } from '../dataset/index.js';
import { CLIP_TOKENIZER_DIR, isEngineReady, runEngine, setupEngine, type EngineEvent, type Env, type EventOf } from '../engine/index.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { buildKohyaMetadata, convertPeftFileToKohya } from '../lora/index.js';
import { intermediateLoraName, planTraining } from './plan.js';
import { TOOL_VERSION } from '../version.js';

export interface TrainOptions {
  config: ResolvedConfig;
  env: Env;
  verbose: boolean;
  onEvent: (event: EngineEvent) => void;
  note: (line: string) => void;
}

export interface TrainResult {
  loraFile: string;
  diffusersFile: string;
  intermediateFiles: string[];
  steps: number;
  isInterrupted: boolean;
}

interface BaseModelHashes {
  legacy: string | null;
  full: Promise<string | null>;
}

function hashBaseModel(path: string): BaseModelHashes {
  if (!existsSync(path) || !statSync(path).isFile()) return { legacy: null, full: Promise.resolve(null) };
  // A1111's old model hash: sha256 of 64 KiB at offset 1 MiB, first 8 hex digits.
  const fd = openSync(path, 'r');
  const chunk = Buffer.alloc(0x10000);
  const read = readSync(fd, chunk, 0, chunk.length, 0x100000);
  closeSync(fd);
  const legacy = createHash('sha256').update(chunk.subarray(0, read)).digest('hex').slice(0, 8);
  const full = new Promise<string | null>((resolve) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (data) => hash.update(data))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', () => resolve(null));
  });
  return { legacy, full };
}

/** The outermost folder of `path` that does not exist yet (what a failed run must remove), or null. */
function firstMissingFolder(path: string): string | null {
  let missing: string | null = null;
  for (let current = path; !existsSync(current); current = dirname(current)) missing = current;
  return missing;
}

export async function runTraining(options: TrainOptions): Promise<TrainResult> {
  const { config } = options;
  // Everything that can be wrong with the data is found before the output folder is touched.
  const items = await readDataset({ dataDir: config.train_data_dir, metadataPath: config.metadata_path, captionExtension: config.caption_extension });
  // prepare's quality and caption rules on what was just read: blocking problems stop here, the rest is one warning block.
  const datasetWarnings = checkTrainingDataset(items, { dataDir: config.train_data_dir, resolutionPx: config.resolution, tokenizerDir: CLIP_TOKENIZER_DIR });
  if (datasetWarnings) options.note(datasetWarnings);
  const plan = planTraining(config);
  if (!isEngineReady(options.env)) setupEngine({ env: options.env, log: options.note });

  const createdRoot = firstMissingFolder(config.output_dir);
  mkdirSync(plan.logsDir, { recursive: true });
  writeManifest(plan.manifestPath, items);
  const hashes = hashBaseModel(config.base_model);
  const sessionId = randomInt(0, 2 ** 32 - 1);
  let started: EventOf<'started'> | undefined;
  const pending: Promise<void>[] = [];
  const intermediateFiles: string[] = [];
  const kohyaFor = (checkpoint: EventOf<'checkpoint'>, trainingStartedAt: number) =>
    writeKohyaFile({ config, items, started: started!, checkpoint, hashes, sessionId, trainingStartedAt });
  const trainingStartedAt = Date.now() / 1000;

  try {
    const result = await runEngine(plan.request, {
      env: options.env,
      logFile: plan.engineLogPath,
      verbose: options.verbose,
      forwardInterrupt: true,
      onEvent: (event) => {
        if (event.type === 'started') started = event;
        if (event.type === 'checkpoint' && !event.is_final) {
          pending.push(
            kohyaFor(event, trainingStartedAt).then((file) => {
              intermediateFiles.push(file);
              options.note(`saved ${file}`);
            }),
          );
        }
        options.onEvent(event);
      },
    });
    await Promise.all(pending);
    const final = result.events.find((e): e is EventOf<'checkpoint'> => e.type === 'checkpoint' && e.is_final);
    if (!final || !started) throw new Error('the engine finished without a final checkpoint');
    const loraFile = await kohyaFor(final, trainingStartedAt);
    writeRunRecord(config, started, result.done, await hashes.full);
    return { loraFile, diffusersFile: final.path, intermediateFiles, steps: result.done.steps ?? final.step, isInterrupted: Boolean(result.done.interrupted) };
  } catch (error) {
    // A run that failed before training began leaves nothing behind it created.
    if (!started && createdRoot) rmSync(createdRoot, { recursive: true, force: true });
    throw error;
  }
}

interface KohyaFileInput {
  config: ResolvedConfig;
  items: MeasuredItem[];
  started: EventOf<'started'>;
  checkpoint: EventOf<'checkpoint'>;
  hashes: BaseModelHashes;
  sessionId: number;
  trainingStartedAt: number;
}

async function writeKohyaFile(input: KohyaFileInput): Promise<string> {
  const { config, started, checkpoint } = input;
  const name = checkpoint.is_final ? `${config.output_name}.safetensors` : intermediateLoraName(config.output_name, checkpoint.step);
  const output = join(config.output_dir, name);
  const metadata = buildKohyaMetadata({
    outputName: config.output_name,
    sessionId: input.sessionId,
    trainingStartedAt: input.trainingStartedAt,
    trainingFinishedAt: Date.now() / 1000,
    networkDim: config.lora_rank,
    networkAlpha: config.lora_alpha,
    networkDropout: config.lora_dropout,
    learningRate: config.learning_rate,
    unetLr: config.learning_rate,
    textEncoderLr: config.train_text_encoder ? config.text_encoder_lr : null,
    numBatchesPerEpoch: started.steps_per_epoch * config.gradient_accumulation_steps,
    numEpochs: started.epochs,
    epoch: checkpoint.epoch,
    steps: checkpoint.step,
    maxTrainSteps: started.total_steps,
    batchSize: config.batch_size,
    gradientAccumulationSteps: config.gradient_accumulation_steps,
    lrScheduler: config.lr_scheduler,
    lrWarmupSteps: config.lr_warmup_steps,
    mixedPrecision: config.mixed_precision === 'auto' ? 'no' : config.mixed_precision,
    seed: config.seed,
    resolution: started.resolution,
    utcOffsetMinutes: -new Date().getTimezoneOffset(),
    toolVersion: TOOL_VERSION,
    predictionType: started.prediction_type,
    family: started.family,
    baseModelName: basename(config.base_model),
    baseModelHash: input.hashes.legacy,
    baseModelNewHash: await input.hashes.full,
    noiseOffset: config.noise_offset || null,
    maxGradNorm: config.max_grad_norm,
    captionDropoutRate: config.caption_dropout_rate,
    shuffleCaption: config.shuffle_caption,
    keepTokens: config.keep_tokens,
    flipAug: config.random_flip,
    randomCrop: config.crop === 'random',
    tagFrequency: tagFrequency(input.items),
    datasetDirs: datasetDirs(input.items),
    optimizer: `torch.optim.adamw.AdamW(weight_decay=${config.adam_weight_decay})`,
    extra: {
      'lora_scripts.version': TOOL_VERSION,
      'lora_scripts.config_hash': configHash(config),
      'lora_scripts.target_modules': JSON.stringify(config.target_modules),
    },
  });
  await convertPeftFileToKohya({ input: checkpoint.path, output, family: started.family, metadata, layersPerBlock: started.layers_per_block });
  return output;
}

function configHash(config: ResolvedConfig): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 16);
}

/** `lora_scripts.json` beside the LoRA: the resolved config, tool version, base-model hash and what happened. */
function writeRunRecord(config: ResolvedConfig, started: EventOf<'started'>, done: EventOf<'done'>, baseModelSha256: string | null): void {
  const record = {
    tool: 'lora-scripts',
    version: TOOL_VERSION,
    config,
    base_model: { path: config.base_model, sha256: baseModelSha256, family: started.family, prediction_type: started.prediction_type },
    training: { steps: done.steps, epoch: done.epoch, interrupted: done.interrupted ?? false, started_at: done.started_at, finished_at: done.finished_at, resolution: started.resolution, layers: started.layers },
    lineage: { parent_lora: null },
  };
  writeFileAtomic(join(config.output_dir, 'lora_scripts.json'), JSON.stringify(record, null, 2) + '\n');
  writeFileAtomic(join(config.output_dir, 'config.resolved.yaml'), `# The config this run used, every default filled in (lora-scripts ${TOOL_VERSION}).\n` + stringify(config));
}
