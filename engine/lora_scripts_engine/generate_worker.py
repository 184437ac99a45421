"""A long-lived renderer: keeps the base model loaded and its LoRAs as named adapters, and renders job after job.

`generate` renders one request and exits; the studio's cover service and A1111-compatible API need many small
renders, where loading the base model each time would cost more than the render. After the `generate-worker`
request, stdin carries one JSON line per job (`WorkerJob`) or per cancellation (`WorkerCancel`). Jobs run one after
another, in the order they came; a reader thread takes cancellations while a job renders, and the job stops at its
next sampling step. Each job ends with one `job_done` event (or one `error` event carrying its `job`), and the
worker then waits for the next; EOF on stdin ends it. A failure of one job (a bad LoRA file, a bad size) does not
end the worker: the base model stays loaded for the next job.

The base model is loaded again only when a job names another one; a LoRA file is loaded once per base model and
then only switched on and off (`stage` events `load_base_model` / `load_lora` let the caller count both).

A Flux base (a diffusers FluxPipeline folder, `base_model_facts.family == "flux"`) renders as `generate` renders it
(generate.generate_flux_batches): the folder's own FlowMatchEuler scheduler (the job's SD scheduler is not used),
`cfg_scale` as dev's guidance, the plain prompt only; its LoRAs switch through the same adapters."""

from __future__ import annotations

import json
import os
import queue
import sys
import threading
import time
import traceback
from dataclasses import dataclass

import diffusers
import torch

from .device import Compute
from .generate import (
    activate_loras,
    flux_prompt_inputs,
    load_flux_pipeline,
    load_pipeline,
    prompt_inputs,
    render_batch,
    save_png,
)
from .protocol import EngineFailure, emit, log
from .request import BaseModelFacts, GenerateBatch, GenerateWorkerOptions, parse_fields


@dataclass
class WorkerJob:
    """One render: a prompt with its seeds, the base model it needs, the PNG file names to write (one per seed)."""

    job: str
    base_model: str
    base_model_facts: BaseModelFacts
    batch: GenerateBatch


@dataclass
class WorkerCancel:
    """Stops `cancel` at its next sampling step, or drops it if it has not started yet."""

    cancel: str


class JobCancelled(Exception):
    pass


class LoadedBase:
    """The base model in memory and the LoRA adapters loaded into its pipeline."""

    def __init__(self, path: str, base, pipe, flux: bool = False):
        self.path = path
        self.base = base  # models.BaseModel (SD) or flux_model.FluxBase
        self.pipe = pipe
        self.flux = flux
        self.adapters: dict[str, str] = {}  # LoRA file → adapter name
        self.active: tuple | None = None  # the LoRAs and weights set last: the same again needs no set_adapters


def serve(options: GenerateWorkerOptions, compute: Compute, stdin=None) -> None:
    stdin = stdin or sys.stdin
    os.makedirs(options.out_dir, exist_ok=True)
    jobs: queue.Queue[WorkerJob | None] = queue.Queue()
    cancelled: set[str] = set()
    threading.Thread(target=read_lines, args=(stdin, jobs, cancelled), name="worker-stdin", daemon=True).start()
    loaded: LoadedBase | None = None
    emit("stage", name="worker_ready", message=options.out_dir)
    while True:
        job = jobs.get()
        if job is None:
            break
        if job.job in cancelled:
            emit("job_done", job=job.job, files=[], cancelled=True)
            continue
        try:
            loaded = render_job(job, loaded, options.out_dir, compute, lambda job_id=job.job: job_id in cancelled)
        except JobCancelled:
            emit("job_done", job=job.job, files=[], cancelled=True)
        except EngineFailure as failure:
            emit(
                "error",
                job=job.job,
                code=failure.code,
                message=failure.message,
                culprit=failure.culprit,
                hint=failure.hint,
            )
        except Exception as error:  # one job's failure; the worker and its loaded model go on
            detail = traceback.format_exc()
            log(detail)
            first_line = str(error).splitlines()[0] if str(error) else ""
            emit(
                "error",
                job=job.job,
                code="render_failed",
                message=f"{type(error).__name__}: {first_line}".rstrip(": "),
                culprit=None,
                hint="the traceback is in the engine log (the studio keeps it in .lora-scripts/logs/render-worker.log)",
                traceback=detail,
            )
        finally:
            cancelled.discard(job.job)
    emit("done", files=[])


def read_lines(stdin, jobs: queue.Queue, cancelled: set[str]) -> None:
    """Jobs go to the queue in order; a cancellation takes effect at once. A line that is not a job is our bug:
    reported as an error of the job it names (if any), and the worker goes on."""
    for line in stdin:
        if not line.strip():
            continue
        raw = None
        try:
            raw = json.loads(line)
            if isinstance(raw, dict) and "cancel" in raw:
                cancelled.add(parse_fields(WorkerCancel, raw, "").cancel)
            else:
                jobs.put(parse_fields(WorkerJob, raw, ""))
        except (ValueError, EngineFailure) as error:
            job_id = raw.get("job") if isinstance(raw, dict) else None
            emit(
                "error",
                job=job_id if isinstance(job_id, str) else None,
                code="bad_request",
                message=str(error),
                culprit="job",
                hint="this is a bug in lora-scripts: run with `--verbose` and report it",
            )
    jobs.put(None)


def render_job(job: WorkerJob, loaded: LoadedBase | None, out_dir: str, compute: Compute, is_cancelled) -> LoadedBase:
    """Renders one job's images with the base model (loaded again only when the job names another one)."""
    if loaded is None or loaded.path != job.base_model:
        loaded = load_base(job, compute)
    batch = job.batch
    pipe = loaded.pipe
    wanted = tuple((lora.path, lora.te_weight, lora.unet_weight) for lora in batch.loras)
    if wanted != loaded.active:
        # peft's set_adapters walks every LoRA layer (about 0.8 s on the demo model, CPU): only when they change.
        activate_loras(pipe, batch.loras, loaded.adapters)
        loaded.active = wanted
    if loaded.flux:
        inputs = flux_prompt_inputs(loaded.base, batch)
    else:
        pipe.scheduler = getattr(diffusers, batch.scheduler.class_name).from_config(
            loaded.base.sampling_scheduler.config, **batch.scheduler.config
        )
        inputs = prompt_inputs(pipe, batch)
    # As `generate` renders: on the CPU one pipeline call per image (image k is exactly the picture its seed makes
    # alone), on a GPU one call for the job (generate.render_batch says why). Each call starts again at step 0.
    calls = len(batch.seeds) if compute.device == "cpu" else 1
    call = {"index": -1}

    def on_step(_pipe, step: int, _timestep, tensors: dict) -> dict:
        if is_cancelled():
            raise JobCancelled()
        if step == 0:
            call["index"] += 1
        emit("render_progress", job=job.job, image=call["index"], images=calls, step=step + 1, steps=batch.steps)
        return tensors

    started = time.monotonic()
    images = render_batch(
        pipe,
        inputs,
        [torch.Generator("cpu").manual_seed(seed) for seed in batch.seeds],
        compute.device,
        num_inference_steps=batch.steps,
        guidance_scale=batch.cfg_scale,
        width=batch.width,
        height=batch.height,
        callback_on_step_end=on_step,
    )
    files = [save_png(image, os.path.join(out_dir, name)) for image, name in zip(images, batch.files)]
    log(f"worker: job {job.job}: {len(files)} images in {time.monotonic() - started:.2f} s")
    emit("job_done", job=job.job, files=files, cancelled=False)
    return loaded


def load_base(job: WorkerJob, compute: Compute) -> LoadedBase:
    """The job's base model, loaded as `generate` loads it (a Flux folder through generate.load_flux_pipeline)."""
    if job.base_model_facts.family == "flux":
        flux = load_flux_pipeline(job.base_model, compute)
        return LoadedBase(job.base_model, flux, flux.pipeline, flux=True)
    base, pipe = load_pipeline(job.base_model, compute, job.base_model_facts)
    return LoadedBase(job.base_model, base, pipe)
