// Captions images with a model in the engine (BLIP, Florence-2 or a WD14 tagger): one `caption` request, one event per image.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { runEngine, type EngineEvent, type Env } from '../engine/index.js';
import { ConfigError, EngineError } from '../errors.js';
import type { Captioner } from './auto-label.js';

/** Florence-2 task prompts that produce a caption (the others detect boxes or read text). */
export const FLORENCE_CAPTION_TASKS = ['<CAPTION>', '<DETAILED_CAPTION>', '<MORE_DETAILED_CAPTION>'] as const;

export const MODEL_HINT =
  'give a BLIP or Florence-2 folder (with config.json), a WD14 tagger folder (*.onnx + selected_tags.csv), or a hub id like `Salesforce/blip-image-captioning-base`';

const HUB_ID = /^[\w.-]+\/[\w.-]+$/;

export interface ModelCaptionerOptions {
  /** A local model folder (absolute) or a hub id: see `modelSource`. */
  model: string;
  batchSize: number;
  /** Florence-2 task prompt, one of FLORENCE_CAPTION_TASKS. */
  task: string;
  /** WD14: general tags above this probability. */
  threshold: number;
  maxTokens: number;
  env: Env;
  verbose: boolean;
  onEvent?: (event: EngineEvent) => void;
  /** Stops the engine (a studio job's cancel); the run then rejects. */
  stopSignal?: AbortSignal;
}

/**
 * `--model` as the engine gets it: an existing path becomes absolute (loaded offline); `owner/name` that is no
 * local path is a hub id (the only case that may use the network); any other missing path is an error here.
 */
export function modelSource(spec: string, cwd: string): string {
  const path = resolve(cwd, spec.replace(/^~(?=\/|$)/, homedir()));
  if (existsSync(path)) return path;
  if (HUB_ID.test(spec) && !spec.startsWith('.')) return spec;
  throw new ConfigError('model folder not found', { code: 'model_missing', culprit: spec, hint: MODEL_HINT });
}

export function modelCaptioner(options: ModelCaptionerOptions): Captioner {
  return async (images) => {
    const request = {
      model: options.model,
      images: images.map((image) => image.path),
      batch_size: options.batchSize,
      task: options.task,
      threshold: options.threshold,
      max_new_tokens: options.maxTokens,
    };
    const { events } = await runEngine(
      { command: 'caption', options: request },
      { env: options.env, verbose: options.verbose, onEvent: options.onEvent, stopSignal: options.stopSignal },
    );
    const captions = new Map(
      events.flatMap((event) => (event.type === 'caption' ? [[event.image, event.caption] as const] : [])),
    );
    return images.map((image) => {
      const caption = captions.get(image.path);
      if (caption === undefined) {
        throw new EngineError('the engine finished without a caption for this image', {
          code: 'caption_missing',
          culprit: image.relPath,
          hint: 'run again with `--verbose` and report it',
        });
      }
      return caption;
    });
  };
}
