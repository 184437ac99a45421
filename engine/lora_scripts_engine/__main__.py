"""Engine entry point: reads one JSON request from stdin, dispatches it, turns every failure into an `error` event."""
from __future__ import annotations

import os
import sys
import traceback

from . import ENGINE_VERSION
from .protocol import PROTOCOL_VERSION, EngineFailure, Request, emit, log, set_channel


def main() -> int:
    # The protocol owns the real stdout; anything a library prints goes to stderr (the log) instead.
    set_channel(sys.stdout)
    sys.stdout = sys.stderr
    try:
        request = Request.parse(sys.stdin.readline())
        guard_offline(request)
        run(request)
        return 0
    except EngineFailure as failure:
        failure.emit()
        return 1
    except Exception as error:  # anything unexpected: one event, the traceback goes with it for --verbose
        detail = traceback.format_exc()
        log(detail)
        code, hint = classify(error)
        emit("error", code=code, message=f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}".rstrip(": "), culprit=None, hint=hint, traceback=detail)
        return 1


def guard_offline(request: Request) -> None:
    """Only a hub-id base model (train) or captioning model (caption) may use the network; everything else loads
    offline, and an accidental hub call then fails at once instead of retrying for ~20 s. Must run before
    huggingface_hub is imported."""
    model = {"train": request.config.get("base_model"), "caption": request.options.get("model")}.get(request.command)
    is_hub_id = bool(model) and not os.path.exists(os.path.expanduser(str(model)))
    if not is_hub_id:
        os.environ["HF_HUB_OFFLINE"] = "1"


def classify(error: Exception) -> tuple[str, str]:
    text = str(error).lower()
    if "out of memory" in text:
        return "out_of_memory", "lower `batch_size` or `resolution`, or set `train_text_encoder: false`"
    return "internal_error", "please report it; `--verbose` shows the traceback"


def run(request: Request) -> None:
    from .device import pick_compute, set_cpu_threads

    set_cpu_threads()
    base_model = request.config.get("base_model") if request.command == "train" else None
    compute = pick_compute(request.config.get("mixed_precision", "auto"), base_model)
    emit("hello", protocol=PROTOCOL_VERSION, engine=ENGINE_VERSION, device=compute.device, dtype=compute.dtype_name, dtype_reason=compute.reason)
    if request.command == "train":
        from .train import TrainRequest, train

        names = TrainRequest.__dataclass_fields__
        config = TrainRequest(**{k: v for k, v in request.config.items() if k in names})
        train(config, request.manifest, request.options["targets"], request.options)
    elif request.command == "doctor":
        from .doctor import doctor

        doctor()
    elif request.command == "render-strengths":
        from .generate import render_strengths

        render_strengths(request.options)
    elif request.command == "generate":
        from .generate import generate

        generate(request.options)
    elif request.command == "make-checkpoint":
        from .tiny_models import write_checkpoint

        path = write_checkpoint(request.options["family"], request.options["path"], full_size=bool(request.options.get("full_size")), seed=int(request.options.get("seed", 0)))
        emit("done", files=[str(path)])
    elif request.command == "caption":
        from .caption import caption_images

        caption_images(request.options, compute)
    else:
        raise EngineFailure("unknown_command", f"unknown engine command `{request.command}`", hint="run `lora-scripts setup`")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
