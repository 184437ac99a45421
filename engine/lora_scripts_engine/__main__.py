"""Engine entry point: reads one JSON request from stdin, dispatches it, turns every failure into an `error` event."""

from __future__ import annotations

import os
import sys
import traceback

from . import ENGINE_VERSION
from .parent_watch import exit_when_orphaned
from .protocol import PROTOCOL_VERSION, EngineFailure, emit, log, set_channel
from .request import (
    CaptionRequest,
    DoctorRequest,
    EngineRequest,
    GenerateRequest,
    GenerateWorkerRequest,
    MakeCheckpointRequest,
    RenderStrengthsRequest,
    TrainRequest,
    parse_request,
)


def main() -> int:
    # A killed server must not leave its training running behind a restarted one (parent_watch.py says why).
    exit_when_orphaned()
    # The protocol owns the real stdout; anything a library prints goes to stderr (the log) instead.
    set_channel(sys.stdout)
    sys.stdout = sys.stderr
    try:
        request = parse_request(read_request(sys.argv[1:]))
        guard_offline(online_model(request))
        from .distributed import join

        join()  # a multi-process run (devices: [0, 1], cpu:N): every rank reads the same request file
        run(request)
        return 0
    except EngineFailure as failure:
        failure.emit()
        return 1
    except Exception as error:  # anything unexpected: one event, the traceback goes with it for --verbose
        detail = traceback.format_exc()
        log(detail)
        code, hint = classify(error)
        emit(
            "error",
            code=code,
            message=f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}".rstrip(": "),
            culprit=None,
            hint=hint,
            traceback=detail,
        )
        return 1


def read_request(args: list[str]) -> str:
    """The request: stdin's first line, or the file `--request FILE` names (a multi-process launch starts every rank
    with the same arguments, and the ranks cannot share one stdin)."""
    if len(args) == 2 and args[0] == "--request":
        with open(args[1], encoding="utf-8") as f:
            return f.readline()
    return sys.stdin.readline()


def online_model(request: EngineRequest) -> str | None:
    """The only models that may come from the hub: a train request's base model, a caption request's model."""
    if isinstance(request, TrainRequest):
        return request.config.base_model
    if isinstance(request, CaptionRequest):
        return request.options.model
    return None


def guard_offline(model: str | None) -> None:
    """A hub-id `model` may use the network; everything else loads offline, and an accidental hub call then fails at
    once instead of retrying for ~20 s. Must run before huggingface_hub is imported."""
    is_hub_id = bool(model) and not os.path.exists(os.path.expanduser(str(model)))
    if not is_hub_id:
        os.environ["HF_HUB_OFFLINE"] = "1"


def classify(error: Exception) -> tuple[str, str]:
    text = str(error).lower()
    if "out of memory" in text:
        return "out_of_memory", "lower `batch_size` or `resolution`, or set `train_text_encoder: false`"
    return "internal_error", "please report it; `--verbose` shows the traceback"


def processes_fields() -> dict:
    """A multi-process run's `hello` also says how many processes train and which pid takes Ctrl-C (the first rank,
    which tells the others at the next step): the launcher would stop its ranks with a deadline instead."""
    from .distributed import current

    ranks = current()
    return {"processes": ranks.count, "pid": os.getpid()} if ranks.count > 1 else {}


def is_flux_request(request: TrainRequest) -> bool:
    """TypeScript's checkpoint verdict says the family; a hub id (no verdict) is Flux when its folder says so."""
    facts = request.options.base_model_facts
    if facts.family is not None:
        return facts.family == "flux"
    from .flux_model import is_flux_folder

    return is_flux_folder(os.path.expanduser(request.config.base_model))


def run(request: EngineRequest) -> None:
    from .device import pick_compute, set_cpu_threads

    set_cpu_threads()
    # Chosen once: `hello` reports the very device and dtype the command then runs with. Commands without a config
    # have no `mixed_precision` setting: the device decides.
    if isinstance(request, TrainRequest):
        compute = pick_compute(request.config.mixed_precision, request.config.base_model)
    else:
        compute = pick_compute("auto", None)
    emit(
        "hello",
        protocol=PROTOCOL_VERSION,
        engine=ENGINE_VERSION,
        device=compute.device,
        dtype=compute.dtype_name,
        dtype_reason=compute.reason,
        **processes_fields(),
    )
    if isinstance(request, TrainRequest) and is_flux_request(request):
        from .flux_train import train_flux

        train_flux(request, compute)
    elif isinstance(request, TrainRequest):
        from .train import train

        train(request, compute)
    elif isinstance(request, DoctorRequest):
        from .doctor import doctor

        doctor()
    elif isinstance(request, RenderStrengthsRequest):
        from .generate import render_strengths

        render_strengths(request.options, compute)
    elif isinstance(request, GenerateRequest):
        from .generate import generate

        generate(request.options, compute)
    elif isinstance(request, GenerateWorkerRequest):
        from .generate_worker import serve

        serve(request.options, compute)
    elif isinstance(request, MakeCheckpointRequest):
        from .tiny_models import write_checkpoint

        options = request.options
        path = write_checkpoint(options.family, options.path, full_size=options.full_size, seed=options.seed)
        emit("done", files=[str(path)])
    elif isinstance(request, CaptionRequest):
        from .caption import caption_images

        caption_images(request.options, compute)
    else:
        raise AssertionError(f"no handler for {type(request).__name__}")  # parse_request knows only the commands above


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
