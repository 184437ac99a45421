// The A1111-compatible API behind its routes: txt2img on the shared render worker, the current checkpoint, progress
// and interrupt. One txt2img at a time, as A1111's queue lock does; `/progress` and `/interrupt` answer meanwhile.
import { randomInt } from 'node:crypto';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { LoraScriptsError } from '../../errors.js';
import { writeFileAtomic } from '../../fs/atomic-write.js';
import {
  chooseScheduler,
  imageFileNames,
  parseNegativePrompt,
  parseParametersText,
  parsePrompt,
  SAMPLER_NAMES,
} from '../../generate/index.js';
import type { RenderedImage, RenderLora, RenderWorker } from '../../render-worker/index.js';
import { TOOL_VERSION } from '../../version.js';
import {
  type Checkpoint,
  findCheckpoint,
  listCheckpoints,
  listLoras,
  type LoraSources,
  loraMetadata,
  MODELS_FOLDER,
  resolveLora,
} from './catalog.js';
import { type FieldFault, readTxt2imgBody, type Txt2imgSettings } from './txt2img-fields.js';

/** A request the API refuses: FastAPI's 422 `{detail: [{loc, msg, type}]}`. */
export class FieldFaults extends Error {
  constructor(readonly faults: FieldFault[]) {
    super(faults.map((f) => `${f.loc.join('.')}: ${f.msg}`).join('; '));
  }
}

/** Any other failure, as A1111's envelope `{error, detail, body, errors}` with its status. */
export class ApiFailure extends Error {
  constructor(
    readonly status: 404 | 409 | 500 | 503,
    readonly error: string,
    message: string,
  ) {
    super(message);
  }
}

/** A1111's schedulers we can run (generate/samplers.ts schedule types), by name and label. */
export const SCHEDULERS = [
  { name: 'automatic', label: 'Automatic', aliases: null, default_rho: -1, need_inner_model: false },
  { name: 'karras', label: 'Karras', aliases: null, default_rho: 7, need_inner_model: false },
  { name: 'exponential', label: 'Exponential', aliases: null, default_rho: 1, need_inner_model: false },
] as const;

export const OUTPUT_FOLDER = join('outputs', 'txt2img-images');
const VERSION = `lora-scripts-${TOOL_VERSION}`;
const SEED_RANGE = 4294967294; // A1111's random seeds: 0 ≤ seed < 2^32 - 1

interface JobState {
  job: string;
  job_count: number;
  job_no: number;
  job_timestamp: string;
  sampling_step: number;
  sampling_steps: number;
  interrupted: boolean;
  startedAt: number;
}

export interface SdapiServiceDeps {
  workspace: string;
  /** The server's shared worker, asked for at the first render (so listing models never starts the engine). */
  worker: () => RenderWorker;
  /** Where `<lora:NAME>` names are looked up besides the workspace's files: the style library. */
  loraSources: LoraSources;
}

export type SdapiService = ReturnType<typeof createSdapiService>;

type SdapiOptions = { sd_model_checkpoint: string | null; sd_checkpoint_hash: string | null } & Record<
  string,
  string | number | boolean | null
>;

export function createSdapiService({ workspace, worker, loraSources }: SdapiServiceDeps) {
  /** `POST /options` `sd_model_checkpoint`, as the path inside models/; null: the first checkpoint. */
  let chosenCheckpoint: string | null = null;
  let state: JobState = idleState('0');
  let running: AbortController | null = null;
  let lock: Promise<unknown> = Promise.resolve();

  async function currentCheckpoint(): Promise<Checkpoint | null> {
    const checkpoints = await listCheckpoints(workspace);
    return (chosenCheckpoint && findCheckpoint(checkpoints, chosenCheckpoint)) || checkpoints[0] || null;
  }

  async function options(): Promise<SdapiOptions> {
    const checkpoint = await currentCheckpoint();
    return {
      sd_model_checkpoint: checkpoint?.title ?? null,
      sd_checkpoint_hash: checkpoint?.sha256 ?? null,
      CLIP_stop_at_last_layers: 1,
      samples_format: 'png',
      enable_pnginfo: true,
      sd_vae: 'Automatic',
      eta_ancestral: 1,
      eta_ddim: 0,
      outdir_txt2img_samples: OUTPUT_FOLDER.split('\\').join('/'),
    };
  }

  /** Switches the checkpoint; any other key must repeat the value `GET /options` gave (Open WebUI posts it back). */
  async function setOptions(body: Record<string, unknown>): Promise<void> {
    const current: Record<string, unknown> = await options();
    const faults: FieldFault[] = [];
    let checkpoint: Checkpoint | null = null;
    for (const [key, value] of Object.entries(body)) {
      if (key === 'sd_model_checkpoint') {
        checkpoint = typeof value === 'string' ? findCheckpoint(await listCheckpoints(workspace), value) : null;
        if (!checkpoint) faults.push(unknownCheckpoint(['body', key], value));
      } else if (!(key in current) || JSON.stringify(current[key]) !== JSON.stringify(value)) {
        faults.push({
          loc: ['body', key],
          msg: `${key} cannot be changed on this server; only sd_model_checkpoint can`,
          type: 'value_error.unsupported',
        });
      }
    }
    if (faults.length > 0) throw new FieldFaults(faults);
    if (checkpoint) chosenCheckpoint = checkpoint.relativePath;
  }

  function progress() {
    const busy = state.job_count > 0;
    const fraction = busy
      ? Math.min(
          1,
          0.01 +
            state.job_no / state.job_count +
            (state.sampling_steps > 0 ? state.sampling_step / state.sampling_steps : 0) / state.job_count,
        )
      : 0;
    const elapsed = (Date.now() - state.startedAt) / 1000;
    return {
      progress: fraction,
      eta_relative: busy && fraction > 0 ? Math.max(0, elapsed / fraction - elapsed) : 0,
      state: {
        skipped: false,
        interrupted: state.interrupted,
        stopping_generation: false,
        job: state.job,
        job_count: state.job_count,
        job_timestamp: state.job_timestamp,
        job_no: state.job_no,
        sampling_step: state.sampling_step,
        sampling_steps: state.sampling_steps,
      },
      current_image: null,
      textinfo: null,
    };
  }

  /** Stops the running txt2img at its next sampling step; it answers with the batches already finished. */
  function interrupt(): void {
    if (state.job_count === 0) return;
    state.interrupted = true;
    running?.abort();
  }

  async function txt2img(body: unknown) {
    const reading = readTxt2imgBody(body);
    if (!reading.ok) throw new FieldFaults(reading.faults);
    const { settings, parameters } = reading;
    const checkpoint = await checkpointFor(settings);
    const sampler = samplerOf(settings);
    const loras = await lorasOf(settings);
    // Queued behind the txt2img before it, as A1111's lock queues; a failure of that one is not ours.
    const previous = lock;
    let release: () => void = () => undefined;
    lock = new Promise<void>((done) => {
      release = done;
    });
    await previous.catch(() => undefined);
    try {
      return await renderAll(settings, parameters, checkpoint, sampler, loras);
    } finally {
      running = null;
      state = idleState(state.job_timestamp);
      release();
    }
  }

  async function checkpointFor(settings: Txt2imgSettings): Promise<Checkpoint> {
    if (settings.checkpoint !== null) {
      const found = findCheckpoint(await listCheckpoints(workspace), settings.checkpoint);
      if (!found)
        throw new FieldFaults([
          unknownCheckpoint(['body', 'override_settings', 'sd_model_checkpoint'], settings.checkpoint),
        ]);
      return found;
    }
    const current = await currentCheckpoint();
    if (!current)
      throw new ApiFailure(
        404,
        'ModelNotFound',
        `no base model in the workspace's \`${MODELS_FOLDER}/\` folder; put a .safetensors checkpoint there`,
      );
    return current;
  }

  async function renderAll(
    settings: Txt2imgSettings,
    parameters: Record<string, unknown>,
    checkpoint: Checkpoint,
    sampler: string,
    loras: RenderLora[],
  ) {
    const count = settings.batch_size * settings.n_iter;
    const seed = settings.seed === -1 ? randomInt(0, SEED_RANGE) : settings.seed;
    const subseed = settings.subseed === -1 ? randomInt(0, SEED_RANGE) : settings.subseed;
    const allSeeds = Array.from({ length: count }, (_, i) => (seed + i) % 2 ** 32);
    const controller = new AbortController();
    running = controller;
    state = {
      job: 'scripts_txt2img',
      job_count: settings.n_iter,
      job_no: 0,
      job_timestamp: timestamp(new Date()),
      sampling_step: 0,
      sampling_steps: settings.steps,
      interrupted: false,
      startedAt: Date.now(),
    };
    const images: RenderedImage[] = [];
    for (let batch = 0; batch < settings.n_iter && !state.interrupted; batch++) {
      state.job_no = batch;
      const seeds = allSeeds.slice(batch * settings.batch_size, (batch + 1) * settings.batch_size);
      try {
        const rendered = await worker().render(
          {
            base_model: checkpoint.filename,
            prompt: settings.prompt,
            negative_prompt: settings.negative_prompt,
            seeds,
            steps: settings.steps,
            cfg_scale: settings.cfg_scale,
            width: settings.width,
            height: settings.height,
            sampler,
            loras,
          },
          controller.signal,
          (p) => {
            state.sampling_step = p.image * p.steps + p.step;
            state.sampling_steps = p.images * p.steps;
          },
        );
        images.push(...rendered);
      } catch (error) {
        if (state.interrupted && error instanceof LoraScriptsError && error.code === 'render_cancelled') break;
        throw asApiError(error);
      }
    }
    if (settings.save_images) saveImages(images);
    const infotexts = images.map((image) => image.infotext);
    const loraHashes = infotexts[0] ? parseParametersText(infotexts[0], 'infotext').loraHashes : [];
    const info = {
      prompt: settings.prompt,
      all_prompts: images.map(() => settings.prompt),
      negative_prompt: settings.negative_prompt,
      all_negative_prompts: images.map(() => settings.negative_prompt),
      seed,
      all_seeds: images.map((image) => image.seed),
      subseed,
      all_subseeds: images.map((_, i) => (subseed + i) % 2 ** 32),
      subseed_strength: 0,
      width: settings.width,
      height: settings.height,
      sampler_name: sampler.replace(/ (Karras|Exponential)$/, ''),
      cfg_scale: settings.cfg_scale,
      steps: settings.steps,
      batch_size: settings.batch_size,
      restore_faces: false,
      face_restoration_model: null,
      sd_model_name: checkpoint.stem,
      sd_model_hash: checkpoint.hash,
      sd_vae_name: null,
      sd_vae_hash: null,
      seed_resize_from_w: -1,
      seed_resize_from_h: -1,
      denoising_strength: null,
      extra_generation_params:
        loraHashes.length > 0 ? { 'Lora hashes': loraHashes.map((l) => `${l.name}: ${l.hash}`).join(', ') } : {},
      index_of_first_image: 0,
      infotexts,
      styles: [],
      job_timestamp: state.job_timestamp,
      clip_skip: 1,
      is_using_inpainting_conditioning: false,
      version: VERSION,
    };
    return {
      images: settings.send_images ? images.map((image) => image.png.toString('base64')) : [],
      parameters,
      info: JSON.stringify(info),
    };
  }

  /** A1111's `outputs/txt2img-images/<date>/00012-<seed>.png`, numbered on from the folder's highest. */
  function saveImages(images: RenderedImage[]): void {
    const folder = join(workspace, OUTPUT_FOLDER, new Date().toISOString().slice(0, 10));
    mkdirSync(folder, { recursive: true });
    const names = imageFileNames(
      readdirSync(folder),
      images.map((image) => image.seed),
    );
    for (const [i, image] of images.entries()) writeFileAtomic(join(folder, names[i]!), image.png);
  }

  async function lorasOf(settings: Txt2imgSettings): Promise<RenderLora[]> {
    try {
      parseNegativePrompt(settings.negative_prompt, 'negative_prompt');
    } catch (error) {
      throw fieldFault(error, 'negative_prompt');
    }
    try {
      const loras: RenderLora[] = [];
      for (const ref of parsePrompt(settings.prompt, 'prompt').loras) {
        const path = await resolveLora(ref.name, loraSources, workspace);
        loras.push({ path, name: ref.name, weight: ref.teWeight, unet_weight: ref.unetWeight });
      }
      return loras;
    } catch (error) {
      throw fieldFault(error, 'prompt');
    }
  }

  return {
    txt2img,
    progress,
    interrupt,
    options,
    setOptions,
    sdModels: async () =>
      (await listCheckpoints(workspace)).map(({ title, model_name, hash, sha256, filename, config }) => ({
        title,
        model_name,
        hash,
        sha256,
        filename,
        config,
      })),
    /** The library's promoted styles by their names, then the workspace's files. */
    loras: async () => [
      ...(await loraSources.libraryStyles()).map(({ name, path }) => ({
        name,
        alias: name,
        path,
        metadata: loraMetadata(path),
      })),
      ...listLoras(workspace).map((lora) => ({
        name: lora.stem,
        alias: lora.alias ?? lora.stem,
        path: lora.path,
        metadata: loraMetadata(lora.path),
      })),
    ],
  };
}

/** `sampler_name` (or `sampler_index`) and `scheduler` → one name the worker reads (`DPM++ 2M Karras`). */
function samplerOf(settings: Txt2imgSettings): string {
  const scheduler =
    settings.scheduler === null
      ? SCHEDULERS[0]
      : SCHEDULERS.find((s) => [s.name, s.label.toLowerCase()].includes(settings.scheduler!.toLowerCase()));
  if (!scheduler)
    throw new FieldFaults([
      {
        loc: ['body', 'scheduler'],
        msg: `unknown scheduler; this server runs ${SCHEDULERS.map((s) => s.name).join(', ')}`,
        type: 'value_error.unsupported',
      },
    ]);
  const field = settings.sampler_field;
  try {
    const choice = chooseScheduler(settings.sampler, 'Automatic', field);
    const schedule = scheduler.label === 'Automatic' ? choice.scheduleType : scheduler.label;
    chooseScheduler(choice.sampler, schedule, field); // a sampler without that schedule is refused here
    return schedule === 'Automatic' ? choice.sampler : `${choice.sampler} ${schedule}`;
  } catch (error) {
    throw fieldFault(error, field, ` (this server runs ${SAMPLER_NAMES.join(', ')})`);
  }
}

function fieldFault(error: unknown, field: string, more = ''): unknown {
  if (!(error instanceof LoraScriptsError)) return error;
  const hint = error.hint ? `; ${error.hint}` : '';
  return new FieldFaults([
    { loc: ['body', field], msg: `${error.message}${hint}${more}`, type: `value_error.${error.code}` },
  ]);
}

function unknownCheckpoint(loc: (string | number)[], value: unknown): FieldFault {
  return {
    loc,
    msg: `no checkpoint ${JSON.stringify(value)} in the workspace's ${MODELS_FOLDER}/ folder; GET /sdapi/v1/sd-models lists them`,
    type: 'value_error.checkpoint_not_found',
  };
}

/** A render failure: the request's fault (422 naming the field) or the engine's (A1111's 500 envelope). */
function asApiError(error: unknown): unknown {
  if (!(error instanceof LoraScriptsError)) return error;
  if (['invalid_render', 'unknown_sampler'].includes(error.code)) return fieldFault(error, error.culprit ?? 'body');
  if (error.code === 'engine_missing') return new ApiFailure(503, 'EngineMissing', `${error.message}; ${error.hint}`);
  return new ApiFailure(500, error.code, error.hint ? `${error.message}; ${error.hint}` : error.message);
}

function idleState(jobTimestamp: string): JobState {
  return {
    job: '',
    job_count: 0,
    job_no: 0,
    job_timestamp: jobTimestamp,
    sampling_step: 0,
    sampling_steps: 0,
    interrupted: false,
    startedAt: Date.now(),
  };
}

/** `YYYYmmddHHMMSS`, as A1111 writes `job_timestamp`. */
function timestamp(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}
