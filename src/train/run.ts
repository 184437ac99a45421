// Drives a training run: checks the dataset, starts the engine, shows progress, and turns each LoRA the
// engine saves into the kohya/WebUI file with its `ss_*` metadata.
import { createHash, randomInt } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readSync, closeSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { stringify } from 'yaml';
import type { ResolvedConfig } from '../config/index.js';
import { checkBaseModel, engineFacts } from '../checkpoint/index.js';
import { BASE_MODEL_LORA_HINT } from './recommend-inputs.js';
import { describeBuckets, trainingBuckets } from './training-buckets.js';
import { checkTrainingDataset, writeManifest, type MeasuredItem } from '../dataset/index.js';
import {
  CLIP_TOKENIZER_DIR,
  countVisibleGpus,
  isEngineReady,
  needsGpuCount,
  processCount,
  resolveDevices,
  runEngine,
  setupEngine,
  type EngineLaunch,
  type EngineEvent,
  type Env,
  type EventOf,
  type RequestBodyOf,
} from '../engine/index.js';
import { EngineError, InterruptedError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { sha256OfFile } from '../fs/file-hash.js';
import { buildKohyaMetadata, LEGACY_WINDOW } from '../lora/index.js';
import { buildLineage, type DatasetRecord, type Lineage } from './lineage.js';
import { kohyaMetadataInput } from './kohya-metadata-input.js';
import { readParentLora, type ParentLora } from './parent-lora.js';
import { checkFluxRun, writeKohyaLora } from './flux-run.js';
import { checkTextEncoderRates } from './text-encoder-rates.js';
import { classShare, formatFinding, type Finding } from './diagnostics.js';
import { readTrainingSets } from './read-datasets.js';
import { masksOf, withClassPicturesAndMasks } from './class-pictures-and-masks.js';
import { finalFiles, staleFinalFiles } from './finished-run.js';
import { createRunMonitor, readLoggedFindings, recordDiagnostics } from './run-monitor.js';
import { intermediateLoraName, planTraining, type TrainPlan } from './plan.js';
import { runFingerprint, type RunFingerprint } from './run-fingerprint.js';
import { findResumeState, hashDataset, listStates, type SavedState } from './training-state.js';
import { TOOL_VERSION } from '../version.js';

export interface TrainOptions {
  config: ResolvedConfig;
  env: Env;
  verbose: boolean;
  onEvent: (event: EngineEvent) => void;
  note: (line: string) => void;
  /** Each diagnostic as it is found (train/diagnostics.ts); by default printed through `note` as one warning line. */
  onFinding?: (finding: Finding) => void;
  /**
   * Stops the run as Ctrl-C does (the engine saves the LoRA trained so far; the result says `isInterrupted`): a
   * server cancelling or stopping a job.
   */
  stopSignal?: AbortSignal;
  /** Each intermediate LoRA (`save_steps`) once its WebUI/kohya file is written: what a user may keep or download. */
  onIntermediateLora?: (file: string, step: number) => void;
}

export interface TrainResult {
  loraFile: string;
  diffusersFile: string;
  intermediateFiles: string[];
  steps: number;
  isInterrupted: boolean;
  /** The diagnostic that stopped the run through `early_stop`, or null. */
  stoppedEarlyBy: Finding | null;
  diagnostics: Finding[];
  /** The state this run went on from (`resume`), or null. */
  resumedFrom: SavedState | null;
}

interface BaseModelHashes {
  legacy: string | null;
  full: Promise<string | null>;
}

function hashBaseModel(path: string): BaseModelHashes {
  const legacy = legacyModelHash(path);
  return legacy === null
    ? { legacy, full: Promise.resolve(null) }
    : { legacy, full: sha256OfFile(path).catch(() => null) };
}

/**
 * A1111's old model hash: sha256 of 64 KiB at offset 1 MiB, first 8 hex digits (cheap for a 2 GB file); null for a
 * folder or a hub id. The run fingerprint names the base model by it (the studio's pre-flight checks `resume` with it).
 */
export function legacyModelHash(path: string): string | null {
  if (!existsSync(path) || !statSync(path).isFile()) return null;
  const fd = openSync(path, 'r');
  const chunk = Buffer.alloc(LEGACY_WINDOW.end - LEGACY_WINDOW.start);
  const read = readSync(fd, chunk, 0, chunk.length, LEGACY_WINDOW.start);
  closeSync(fd);
  return createHash('sha256').update(chunk.subarray(0, read)).digest('hex').slice(0, 8);
}

/** The outermost folder of `path` that does not exist yet (what a failed run must remove), or null. */
function firstMissingFolder(path: string): string | null {
  let missing: string | null = null;
  for (let current = path; !existsSync(current); current = dirname(current)) missing = current;
  return missing;
}

export async function runTraining(options: TrainOptions): Promise<TrainResult> {
  const { config } = options;
  // The base model first, from its header alone: a LoRA or a VAE given as `base_model` is one line, at once.
  const base = checkBaseModel(config.base_model, { culprit: config.base_model, loraHint: BASE_MODEL_LORA_HINT });
  // Everything that can be wrong with the data is found before the output folder is touched.
  const { items, validationItems } = await readTrainingSets(config);
  // prepare's quality and caption rules on what was just read: blocking problems stop here, the rest is one warning block.
  const datasetWarnings = checkTrainingDataset(items, {
    dataDir: config.train_data_dir,
    resolutionPx: config.resolution,
    tokenizerDir: CLIP_TOKENIZER_DIR,
  });
  if (datasetWarnings) options.note(datasetWarnings);
  // The manifest's pictures: the training pictures, then `reg_data_dir`'s class pictures; with their masks.
  const pictures = await withClassPicturesAndMasks(config, items);
  const plan = planTraining(config, engineFacts(base));
  const parent = config.init_lora ? await readParentLora(config.init_lora) : null;
  const hashes = hashBaseModel(config.base_model);
  const dataset: DatasetRecord = {
    name: basename(config.train_data_dir),
    images: items.length,
    sha256: await hashDataset(pictures.items, pictures.extras),
  };
  const launch = engineLaunch(config, options);
  if (base.family === 'flux') checkFluxRun(config, base, processCount(launch), options.note);
  checkTextEncoderRates(config, base.family);
  const fingerprint = runFingerprint(config, {
    dataset: dataset.sha256,
    baseModel: hashes.legacy ?? config.base_model,
    initLora: parent?.sha256 ?? null,
    processes: processCount(launch),
  });
  const resumedFrom = findResumeState(config, fingerprint);
  if (config.resume === 'auto' && !resumedFrom)
    options.note(`no saved state in ${config.output_dir}: starting a new run`);
  if (resumedFrom) options.note(`resuming from the state at step ${resumedFrom.step}: ${resumedFrom.dir}`);
  if (!isEngineReady(options.env)) setupEngine({ env: options.env, log: options.note });

  const createdRoot = firstMissingFolder(config.output_dir);
  mkdirSync(plan.logsDir, { recursive: true });
  const bucketResolution = config.resolution ?? (config.bucketing === 'off' ? null : base.nativeSizePx);
  const buckets = trainingBuckets(pictures.items, {
    mode: config.bucketing,
    resolutionPx: bucketResolution,
    maxUpscale: config.bucket_max_upscale,
  });
  if (buckets) options.note(`buckets: ${describeBuckets(buckets)}`);
  else if (config.bucketing === 'on' && bucketResolution === null)
    options.note(
      "bucketing: off, because the base model's native size is not known before loading it: set `resolution`",
    );
  writeManifest(plan.manifestPath, pictures.items, buckets, pictures.extras);
  if (pictures.classPictures)
    options.note(
      `prior preservation: ${pictures.classPictures} class pictures from ${config.reg_data_dir}, each ${pictures.items.at(-1)?.repeats}× per epoch, at prior_loss_weight ${config.prior_loss_weight}`,
    );
  if (config.masked_loss) options.note(`masked loss: ${pictures.masks} of ${items.length} pictures have a mask`);
  if (plan.validationManifestPath) {
    writeManifest(plan.validationManifestPath, validationItems, null, await masksOf(config, validationItems));
    options.note(`validation loss on ${validationItems.length} held-out pictures (${plan.validationManifestPath})`);
  }
  const monitor = createRunMonitor({
    config,
    trainingImages: items.map((item) => item.path),
    classShare: classShare(pictures.items, (i) => pictures.extras[i]?.is_class === true),
    report: options.onFinding ?? ((finding) => options.note(formatFinding(finding))),
    earlier: resumedFrom ? readLoggedFindings(config.output_dir) : [],
  });
  // Before the engine rewrites any: if the state finished the run, these are the files its ending did not write.
  const final = finalFiles(config);
  const cutOff = resumedFrom ? staleFinalFiles(final, resumedFrom.step) : [];
  const sessionId = randomInt(0, 2 ** 32 - 1);
  let hello: EventOf<'hello'> | undefined;
  let started: EventOf<'started'> | undefined;
  const pending: Promise<void>[] = [];
  const intermediateFiles: string[] = [];
  const lineageAt = (steps: number) => buildLineage(parent, [dataset], steps);
  const kohyaFor = (checkpoint: EventOf<'checkpoint'>, trainingStartedAt: number) =>
    writeKohyaFile({
      config,
      items,
      classItems: pictures.items.slice(items.length),
      hello: hello!,
      started: started!,
      checkpoint,
      hashes,
      sessionId,
      trainingStartedAt,
      lineage: lineageAt(checkpoint.step),
    });
  const trainingStartedAt = Date.now() / 1000;

  // A stop asked for before the engine starts: the engine must not be spawned only to be interrupted at once.
  if (options.stopSignal?.aborted) throw new InterruptedError('stopped before training began', { code: 'interrupted' });
  try {
    const result = await runEngine(engineRequest(plan, { fingerprint, parent, resumedFrom, env: options.env }), {
      env: options.env,
      logFile: plan.engineLogPath,
      verbose: options.verbose,
      forwardInterrupt: true,
      launch,
      stopSignal: options.stopSignal ? AbortSignal.any([monitor.stopSignal, options.stopSignal]) : monitor.stopSignal,
      onEvent: (event) => {
        if (event.type === 'hello') hello = event;
        if (event.type === 'started') started = event;
        monitor.onEvent(event);
        if (event.type === 'checkpoint' && !event.is_final) {
          pending.push(
            kohyaFor(event, trainingStartedAt).then((file) => {
              intermediateFiles.push(file);
              options.note(`saved ${file}`);
              options.onIntermediateLora?.(file, event.step);
            }),
          );
        }
        options.onEvent(event);
      },
    });
    await Promise.all(pending);
    const diagnostics = await monitor.finish();
    const saved = result.events.find((e): e is EventOf<'checkpoint'> => e.type === 'checkpoint' && e.is_final);
    if (!saved || !started) throw new Error('the engine finished without a final checkpoint');
    // A state at the last step: the run was killed in its ending, and only the files it did not write are left to do.
    const isFinishing = resumedFrom?.step === started.total_steps;
    const shouldWrite = (file: string) => !isFinishing || cutOff.includes(file);
    if (shouldWrite(final.loraFile)) await kohyaFor(saved, trainingStartedAt);
    killForTest(options.env, 'webui_file');
    if (shouldWrite(final.runRecord)) {
      writeRunRecord(config, started, result.done, await hashes.full, { lineage: lineageAt(saved.step), resumedFrom });
      killForTest(options.env, 'run_record');
      recordDiagnostics(config.output_dir, diagnostics, monitor.stoppedBy());
    }
    if (isFinishing) options.note(describeFinishing(saved.step, cutOff));
    return {
      diagnostics,
      stoppedEarlyBy: monitor.stoppedBy(),
      loraFile: final.loraFile,
      diffusersFile: saved.path,
      intermediateFiles,
      steps: result.done.steps ?? saved.step,
      isInterrupted: Boolean(result.done.interrupted) && !monitor.stoppedBy(),
      resumedFrom,
    };
  } catch (error) {
    await Promise.allSettled(pending); // the LoRA files of the checkpoints before the failure are kept whole
    // A run that failed before training began leaves nothing behind it created.
    if (!started && createdRoot) rmSync(createdRoot, { recursive: true, force: true });
    throw explainFailure(error, config, intermediateFiles);
  }
}

/** `devices` → the launch; GPU indices are checked against the GPUs the engine sees (set up first to ask it). */
function engineLaunch(config: ResolvedConfig, options: TrainOptions): EngineLaunch {
  if (!needsGpuCount(config.devices)) return resolveDevices(config.devices, 0);
  if (!isEngineReady(options.env)) setupEngine({ env: options.env, log: options.note });
  return resolveDevices(config.devices, countVisibleGpus(options.env));
}

interface RunExtras {
  fingerprint: RunFingerprint;
  parent: ParentLora | null;
  resumedFrom: SavedState | null;
  env: Env;
}

function describeFinishing(step: number, written: string[]): string {
  if (written.length === 0) {
    return `the run was already complete at step ${step}: nothing to write (raise \`epochs\` to train further)`;
  }
  const names = written.map((file) => basename(file)).join(', ');
  return `the state at step ${step} had finished this run: wrote the files its ending had not, ${names}`;
}

// Tests only: the points of the ending where a test kills the run (SIGKILL), to prove `resume` completes it from there.
// `lora_file` and `state` are the engine's (its request's `test_kill_at`); `webui_file` and `run_record` are ours.
const ENGINE_KILL_POINTS = ['lora_file', 'state'] as const;
type EngineKillPoint = (typeof ENGINE_KILL_POINTS)[number];

function killForTest(env: Env, point: 'webui_file' | 'run_record'): void {
  if (env.LORA_SCRIPTS_TEST_KILL_AT === point) process.kill(process.pid, 'SIGKILL');
}

function engineKillPoint(env: Env): EngineKillPoint | null {
  return ENGINE_KILL_POINTS.find((point) => point === env.LORA_SCRIPTS_TEST_KILL_AT) ?? null;
}

/** The planned request plus what only this run knows: the state to go on from, the fingerprint, `init_lora` facts. */
function engineRequest(plan: TrainPlan, extras: RunExtras): RequestBodyOf<'train'> {
  // Tests only: makes the loss of that step NaN, to prove a diverging run stops without saving bad weights.
  const nanAtStep = Number(extras.env.LORA_SCRIPTS_TEST_NAN_AT_STEP) || undefined;
  return {
    ...plan.request,
    config: { ...plan.request.config, resume: extras.resumedFrom?.dir ?? null },
    options: {
      ...plan.request.options,
      state_fingerprint: extras.fingerprint,
      init_lora: extras.parent ? { family: extras.parent.family ?? null, layers: extras.parent.layers } : null,
      test_nan_at_step: nanAtStep ?? null,
      test_kill_at: engineKillPoint(extras.env),
    },
  };
}

/** Adds what the engine cannot know: the last good kohya file after a NaN, and how to resume after a crash. */
function explainFailure(error: unknown, config: ResolvedConfig, intermediateFiles: string[]): unknown {
  if (!(error instanceof EngineError)) return error;
  const lastFile = intermediateFiles.at(-1);
  if (error.code === 'loss_not_finite' && lastFile) {
    return new EngineError(`${error.message} (${lastFile})`, {
      code: error.code,
      culprit: error.culprit,
      hint: error.hint,
      cause: error.cause,
    });
  }
  const latest = listStates(config.output_dir)[0];
  if (error.code === 'engine_crashed' && latest) {
    return new EngineError(error.message, {
      code: error.code,
      culprit: error.culprit,
      hint: `the state at step ${latest.step} was saved: \`lora-scripts train … --resume\` goes on from it`,
      cause: error.cause,
    });
  }
  return error;
}

interface KohyaFileInput {
  config: ResolvedConfig;
  items: MeasuredItem[];
  /** `reg_data_dir`'s class pictures, with their repeats. */
  classItems: MeasuredItem[];
  /** Its dtype is the precision the run computed in (`mixed_precision: auto` resolved). */
  hello: EventOf<'hello'>;
  started: EventOf<'started'>;
  checkpoint: EventOf<'checkpoint'>;
  hashes: BaseModelHashes;
  sessionId: number;
  trainingStartedAt: number;
  lineage: Lineage;
}

async function writeKohyaFile(input: KohyaFileInput): Promise<string> {
  const { config, started, checkpoint } = input;
  const output = checkpoint.is_final
    ? finalFiles(config).loraFile
    : join(config.output_dir, intermediateLoraName(config.output_name, checkpoint.step));
  const metadata = buildKohyaMetadata(
    kohyaMetadataInput({
      ...input,
      baseModelHash: input.hashes.legacy,
      baseModelNewHash: await input.hashes.full,
      trainingFinishedAt: Date.now() / 1000,
      utcOffsetMinutes: -new Date().getTimezoneOffset(),
    }),
  );
  await writeKohyaLora({
    input: checkpoint.path,
    output,
    family: started.family,
    metadata,
    layersPerBlock: started.layers_per_block,
  });
  return output;
}

/** `lora_scripts.json` beside the LoRA: the resolved config, tool version, base-model hash and what happened. */
function writeRunRecord(
  config: ResolvedConfig,
  started: EventOf<'started'>,
  done: EventOf<'done'>,
  baseModelSha256: string | null,
  run: { lineage: Lineage; resumedFrom: SavedState | null },
): void {
  const record = {
    tool: 'lora-scripts',
    version: TOOL_VERSION,
    config,
    base_model: {
      path: config.base_model,
      sha256: baseModelSha256,
      family: started.family,
      prediction_type: started.prediction_type,
    },
    training: {
      steps: done.steps,
      epoch: done.epoch,
      interrupted: done.interrupted ?? false,
      resumed_from_step: run.resumedFrom?.step ?? null,
      started_at: done.started_at,
      finished_at: done.finished_at,
      resolution: started.resolution,
      layers: started.layers,
      lora_rank: started.lora_rank ?? config.lora_rank,
      lora_alpha: started.lora_alpha ?? config.lora_alpha,
    },
    lineage: run.lineage,
  };
  writeFileAtomic(join(config.output_dir, 'lora_scripts.json'), `${JSON.stringify(record, null, 2)}\n`);
  writeFileAtomic(
    join(config.output_dir, 'config.resolved.yaml'),
    `# The config this run used, every default filled in (lora-scripts ${TOOL_VERSION}).\n${stringify(config)}`,
  );
}
