// The render worker's contract: what a caller (cover service, A1111-compatible API) asks and gets back.

export interface RenderLora {
  /** Absolute, or resolved in the workspace by the caller. */
  path: string;
  /** The LoRA's weight (text encoder and UNet alike, unless `unet_weight` is given). */
  weight: number;
  /** The UNet's own weight, as `<lora:name:te:unet>` gives it. */
  unet_weight?: number;
  /** The name the prompt's `<lora:NAME:…>` tag uses (default: the file stem); the infotext writes it. */
  name?: string;
}

export interface RenderRequest {
  /** A single-file checkpoint or diffusers folder. */
  base_model: string;
  /** WebUI syntax: `(word:1.2)` emphasis (not on Flux); `<lora:…>` tags are taken out (the LoRAs applied are `loras`). */
  prompt: string;
  /** Ignored on a Flux base, which has none (the worker notes it in its log). */
  negative_prompt: string;
  /** One image per seed, in order. */
  seeds: number[];
  /** null or left out: the base model family's default (generate/sampling-defaults.ts: SD 20, Flux dev 28, schnell 4). */
  steps?: number | null;
  /** Flux dev: the guidance value. null or left out: the family's default (SD 7, Flux dev 3.5). */
  cfg_scale?: number | null;
  width: number;
  height: number;
  /** A WebUI sampler name: `Euler a`, `DPM++ 2M`, `DPM++ 2M Karras`… (generate/samplers.ts); Flux: not used (its own Euler). */
  sampler: string;
  loras: RenderLora[];
}

export interface RenderedImage {
  /** The PNG, with the WebUI `parameters` text chunk holding `infotext`. */
  png: Buffer;
  seed: number;
  infotext: string;
}

/** Where the render in progress is: sampling step `step` of `steps` on image `image` (from 0) of `images`. */
export interface RenderProgress {
  image: number;
  images: number;
  step: number;
  steps: number;
}

export interface RenderWorkerStats {
  /** How many times a base model was loaded (once, while every request names the same one and nothing crashed). */
  base_loads: number;
  /** How many times a LoRA file was loaded into the pipeline (once per file and base-model load). */
  lora_loads: number;
  /** Render requests finished with their images. */
  renders: number;
}

export interface RenderWorker {
  /**
   * Renders after the requests before it (one at a time, in order). An aborted `signal` drops a waiting request or
   * stops a running one at its next sampling step; either way the promise rejects with code `render_cancelled`.
   */
  render(
    request: RenderRequest,
    signal?: AbortSignal,
    onProgress?: (progress: RenderProgress) => void,
  ): Promise<RenderedImage[]>;
  stats(): RenderWorkerStats;
  /** Ends the engine process; waiting requests reject with code `render_worker_closed`. */
  close(): Promise<void>;
}
