// What the studio and a worker say to each other about a render, through Redis: the job's data, its outcome, the
// cancel message. Pure: paths, priorities and errors turned into plain JSON and back.
import { isAbsolute, join, relative, sep } from 'node:path';
import { ConfigError, EngineError, InterruptedError, LoraScriptsError as BaseError, UsageError } from '../errors.js';
import type { RenderedImage, RenderProgress, RenderRequest, RenderWorkerStats } from '../render-worker/index.js';
import { QUEUE_PREFIX, RENDER_QUEUE } from './connection.js';

/** An interactive request (a user waiting on a cover) goes before every batch request already waiting. */
export type RenderPriority = 'interactive' | 'batch';

/** A render request that says how urgent it is (default `interactive`); the local worker ignores the field. */
export type QueuedRenderRequest = RenderRequest & { priority?: RenderPriority };

/** BullMQ priorities: lower runs first; 0 (none) would jump ahead of both, so every render job has one. */
export const RENDER_PRIORITIES: Record<RenderPriority, number> = { interactive: 1, batch: 10 };

/** The BullMQ job name of a render. */
export const RENDER_JOB = 'render';

/** Pub/sub channel on which a studio asks whichever worker runs a job to stop it. Message: the job id. */
export const RENDER_CANCEL_CHANNEL = `${QUEUE_PREFIX}:${RENDER_QUEUE}:cancel`;

export interface RenderJobData {
  /** Paths inside the studio's workspace are workspace-relative (`/`-separated); others are sent as they are. */
  request: RenderRequest;
}

export interface SerializedError {
  /** The LoraScriptsError subclass; `plain`: another error (a file system one, say), its `code` kept. */
  kind: 'usage' | 'config' | 'interrupted' | 'engine' | 'plain';
  code: string;
  message: string;
  culprit?: string;
  hint?: string;
}

export interface WireImage {
  /** The PNG, base64 (a 512 px cover is ~0.4 MB; the events stream that carries it is capped, see render-client). */
  png: string;
  seed: number;
  infotext: string;
}

/** BullMQ's `job.timestamp` (added) and `job.processedOn` (taken by a worker), ms since the epoch: the queue's delay. */
export interface JobTiming {
  submitted: number;
  started: number;
}

/** A job completes with one or the other: a failed render is an answer, not a queue failure (that is `failed`). */
export type RenderOutcome = ({ images: WireImage[] } | { error: SerializedError }) & {
  worker: string;
  stats: RenderWorkerStats;
  timing: JobTiming;
};

export type { RenderProgress };

/**
 * The studio's side: a path under its workspace becomes workspace-relative, so every worker can find it.
 * `workspaces`: the workspace's spellings (as given and its real path: callers build paths from either).
 */
export function toSharedPaths(request: RenderRequest, workspaces: readonly string[]): RenderRequest {
  const shared = (path: string) => {
    if (!isAbsolute(path)) return path;
    for (const workspace of workspaces) {
      const inside = relative(workspace, path);
      if (inside !== '' && !inside.startsWith('..') && !isAbsolute(inside)) return inside.split(sep).join('/');
    }
    return path;
  };
  const { priority: _priority, ...plain } = request as QueuedRenderRequest;
  return {
    ...plain,
    base_model: shared(request.base_model),
    loras: request.loras.map((lora) => ({ ...lora, path: shared(lora.path) })),
  };
}

/**
 * The worker's side: a relative LoRA path is in its mount of the workspace; so is a relative base model that exists
 * there (`exists`), else it is a hub id and stays as it is.
 */
export function fromSharedPaths(
  request: RenderRequest,
  workspace: string,
  exists: (path: string) => boolean,
): RenderRequest {
  const local = (path: string) => (isAbsolute(path) ? path : join(workspace, path));
  const baseInWorkspace = local(request.base_model);
  return {
    ...request,
    base_model: isAbsolute(request.base_model) || !exists(baseInWorkspace) ? request.base_model : baseInWorkspace,
    loras: request.loras.map((lora) => ({ ...lora, path: local(lora.path) })),
  };
}

export function encodeImages(images: RenderedImage[]): WireImage[] {
  return images.map((image) => ({ png: image.png.toString('base64'), seed: image.seed, infotext: image.infotext }));
}

export function decodeImages(images: WireImage[]): RenderedImage[] {
  return images.map((image) => ({ png: Buffer.from(image.png, 'base64'), seed: image.seed, infotext: image.infotext }));
}

/** A worker's error as JSON. */
export function serializeError(error: unknown): SerializedError {
  if (!(error instanceof BaseError)) {
    const code = (error as { code?: unknown } | null)?.code;
    const message = error instanceof Error ? error.message : String(error);
    return { kind: 'plain', code: typeof code === 'string' ? code : 'render_failed', message };
  }
  const kind =
    error instanceof UsageError
      ? 'usage'
      : error instanceof ConfigError
        ? 'config'
        : error instanceof InterruptedError
          ? 'interrupted'
          : 'engine';
  return { kind, code: error.code, message: error.message, culprit: error.culprit, hint: error.hint };
}

/** The same error class and code the local render worker would have thrown (HTTP status and exit code follow it). */
export function deserializeError(error: SerializedError): Error {
  if (error.kind === 'plain') return Object.assign(new Error(error.message), { code: error.code });
  const details = { code: error.code, culprit: error.culprit, hint: error.hint };
  const Kind = { usage: UsageError, config: ConfigError, interrupted: InterruptedError, engine: EngineError }[
    error.kind
  ];
  return new Kind(error.message, details);
}
