// Sends cover renders to the generation worker in batches: requests that arrive while it is busy wait, and then
// those that share a style (base model and LoRAs) go together — back to back, so the worker switches its LoRA once
// per batch, and requests that differ only in their seeds as one render of all their seeds.
import type { RenderedImage, RenderRequest, RenderWorker } from '../render-worker/index.js';

export type CoverRenderer = Pick<RenderWorker, 'render'>;

interface Waiting {
  request: RenderRequest;
  signal: AbortSignal | undefined;
  resolve: (images: RenderedImage[]) => void;
  reject: (error: unknown) => void;
}

export interface RenderBatcher {
  render(request: RenderRequest, signal?: AbortSignal): Promise<RenderedImage[]>;
  /** Requests waiting for the worker (not counting the one it renders). */
  waiting(): number;
}

export interface RenderBatcherOptions {
  /**
   * Renders sent at once (default 1: the one engine renders one at a time). A renderer that spreads them over several
   * engines (the render queue's workers) gets more, and each render then takes one group of identical settings, so
   * the groups go to different workers instead of one after another to the first.
   */
  inFlight?: number;
}

export function createRenderBatcher(worker: CoverRenderer, { inFlight = 1 }: RenderBatcherOptions = {}): RenderBatcher {
  const queue: Waiting[] = [];
  let lanes = 0;

  /** Takes the next batch: the oldest waiting request's style; with several lanes, only its first settings group. */
  function takeBatch(): Waiting[][] {
    // The oldest waiting request decides the style, so no style waits behind a steady stream of another.
    const style = styleKey(queue[0]!.request);
    const groups = groupBySettings(queue.filter((w) => styleKey(w.request) === style));
    const taken = inFlight === 1 ? groups : groups.slice(0, 1);
    for (const w of taken.flat()) queue.splice(queue.indexOf(w), 1);
    return taken;
  }

  async function lane(): Promise<void> {
    // One turn of the event loop first, so requests made in the same tick are seen together.
    await new Promise((next) => setImmediate(next));
    while (queue.length > 0) {
      for (const group of takeBatch()) await renderGroup(worker, group);
    }
    lanes -= 1;
  }

  return {
    render(request, signal) {
      return new Promise((resolve, reject) => {
        queue.push({ request, signal, resolve, reject });
        if (lanes < inFlight) {
          lanes += 1;
          void lane();
        }
      });
    },
    waiting: () => queue.length,
  };
}

/** One worker call for requests that differ only in their seeds; each gets its own images back, in order. */
async function renderGroup(worker: CoverRenderer, group: Waiting[]): Promise<void> {
  const live = group.filter((w) => {
    if (!w.signal?.aborted) return true;
    w.reject(w.signal.reason);
    return false;
  });
  if (live.length === 0) return;
  // A lone request keeps its signal; a shared render is not stopped because one of its callers gave up.
  const signal = live.length === 1 ? live[0]!.signal : undefined;
  try {
    const images = await worker.render({ ...live[0]!.request, seeds: live.flatMap((w) => w.request.seeds) }, signal);
    let from = 0;
    for (const w of live) {
      w.resolve(images.slice(from, from + w.request.seeds.length));
      from += w.request.seeds.length;
    }
  } catch (error) {
    for (const w of live) w.reject(error);
  }
}

function styleKey(request: RenderRequest): string {
  return JSON.stringify([request.base_model, request.loras]);
}

function groupBySettings(batch: Waiting[]): Waiting[][] {
  const groups = new Map<string, Waiting[]>();
  for (const w of batch) {
    const { seeds: _seeds, ...settings } = w.request;
    const key = JSON.stringify(settings);
    groups.set(key, [...(groups.get(key) ?? []), w]);
  }
  return [...groups.values()];
}
