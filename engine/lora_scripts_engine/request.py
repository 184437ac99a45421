"""The one request TypeScript writes to stdin: a dataclass per command, parsed strictly.

Each class mirrors a zod schema of src/engine/protocol.ts, and engine/tests/test_protocol.py checks that field names
and types match its JSON Schema. No field has a default: TypeScript sends every value resolved (defaults live in
src/config/schema.ts alone), and `parse_request` refuses an unknown, missing or mistyped key, naming it. Range checks
live only in zod. Imports nothing heavy: `__main__` parses before it may let huggingface_hub go online.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass
from typing import Any

from .protocol import PROTOCOL_VERSION, EngineFailure

# ---- train ------------------------------------------------------------------------------------


@dataclass
class TrainConfig:
    """The train request's `config`: every key of src/config/schema.ts, resolved (`auto` and derived values filled)."""

    train_data_dir: str
    metadata_path: str | None
    reg_data_dir: str | None  # applied by TypeScript: class pictures are manifest lines with "is_class": true
    mask_dir: str | None  # applied by TypeScript: each manifest line names its mask ("mask")
    resolution: int | None
    crop: str
    random_flip: bool
    crop_scale: float
    color_jitter: float
    base_model: str
    prediction_type: str
    flux_components: str | None  # Flux: diffusers folder with VAE/CLIP/T5 for a single-file transformer
    guidance_scale: float  # Flux dev: the guidance value told to the transformer while training
    timestep_sampling: str  # Flux: logit_normal | uniform
    logit_mean: float
    logit_std: float
    timestep_shift: float | None  # Flux: None = by the picture's token count
    max_sequence_length: int  # Flux: T5 tokens
    lora_rank: int
    lora_alpha: float
    target_modules: list[str]
    lora_dropout: float
    network_type: str  # lora | loha | lokr | dora (networks.adapter_config)
    lokr_factor: int
    unet_block_lr: list[str]  # `BLOCK=VALUE` items, checked against the model by training_options.py
    unet_block_rank: list[str]
    train_text_encoder: bool
    init_lora: str | None
    batch_size: int
    epochs: int
    max_train_steps: int | None
    learning_rate: float
    text_encoder_lr: float  # SDXL: the first encoder; 0 = frozen
    text_encoder_2_lr: float  # SDXL: the second encoder; 0 = frozen
    lr_scheduler: str
    lr_warmup_steps: int
    gradient_accumulation_steps: int
    mixed_precision: str
    max_grad_norm: float
    adam_weight_decay: float
    noise_offset: float
    adaptive_noise_scale: float
    multires_noise_iterations: int
    multires_noise_discount: float
    zero_terminal_snr: bool
    min_snr_gamma: float | None
    ema_decay: float | None
    prior_loss_weight: float
    masked_loss: bool
    seed: int
    resume: str | None
    trigger_word: str | None
    caption_extension: str
    shuffle_caption: bool
    keep_tokens: int
    caption_dropout_rate: float
    bucketing: str  # applied by TypeScript, which writes each image's bucket into the manifest
    bucket_max_upscale: float
    cache_latents: bool
    cache_dir: str | None
    cache_text_encoder_outputs: bool
    optimizer: str
    gradient_checkpointing: bool
    torch_compile: bool
    cpu_kernels: str
    devices: str  # applied by TypeScript, which launches one process per device (distributed.py); here as text
    sample_prompts: list[str]
    sample_every_n_steps: int | None
    sample_inference_steps: int
    validation_split: float  # applied by TypeScript, which writes the held-out pictures to their own manifest
    validation_dir: str | None
    validation_every_n_steps: int | None
    early_stop: str  # decided by TypeScript (src/train/diagnostics.ts), which then stops the run like Ctrl-C
    output_dir: str
    output_name: str
    save_steps: int
    save_precision: str
    save_state_limit: int
    save_state_every_minutes: float
    logging_steps: int


@dataclass
class TargetEntry:
    """One `target_modules` entry, expanded by TypeScript (src/train/target-modules.ts) to module-name suffixes."""

    name: str
    unet: list[str]
    text_encoder: list[str]


@dataclass
class InitLoraFacts:
    """What TypeScript read from the `init_lora` file: its base family (None when the file can't tell) and layer count."""

    family: str | None
    layers: int


@dataclass
class StateFingerprint:
    """TypeScript's identity of the run, written into every saved state (state.json) to refuse a changed config on resume."""

    config: dict[str, Any]
    dataset: str
    base_model: str
    init_lora: str | None


@dataclass
class BaseModelFacts:
    """TypeScript's checkpoint verdict (src/checkpoint), which models.py loads with; None where the header can't tell."""

    family: str | None
    prediction_type: str | None


@dataclass
class TrainOptions:
    """What TypeScript adds per run, beside the config."""

    targets: list[TargetEntry]
    validation_manifest: str | None  # the held-out pictures, when a validation loss is asked for
    state_fingerprint: StateFingerprint
    init_lora: InitLoraFacts | None  # set exactly when `config.init_lora` is
    test_nan_at_step: int | None  # tests only: this step's loss becomes NaN
    test_kill_at: str | None  # tests only: SIGKILL at this point of the ending (`lora_file`, `state`)
    base_model_facts: BaseModelFacts


@dataclass
class TrainRequest:
    protocol: int
    command: str
    config: TrainConfig
    manifest: str
    options: TrainOptions


# ---- generate and render-strengths ------------------------------------------------------------


@dataclass
class SchedulerSettings:
    """A diffusers scheduler class and its settings over the base model's config (src/generate/samplers.ts)."""

    class_name: str
    config: dict[str, Any]  # keyword arguments of `from_config`; diffusers checks them


@dataclass
class LoraWeights:
    path: str
    name: str
    te_weight: float
    unet_weight: float


@dataclass
class GenerateBatch:
    """One pipeline call: images of one prompt, one per seed."""

    prompt: str
    negative_prompt: str
    prompt_segments: list[tuple[str, float]] | None  # `(word:1.2)` emphasis as (text, weight); None: plain text
    negative_segments: list[tuple[str, float]] | None
    seeds: list[int]
    files: list[str]
    steps: int
    cfg_scale: float
    width: int
    height: int
    scheduler: SchedulerSettings
    loras: list[LoraWeights]


@dataclass
class GenerateOptions:
    base_model: str
    base_model_facts: BaseModelFacts
    out_dir: str
    batches: list[GenerateBatch]


@dataclass
class GenerateRequest:
    protocol: int
    command: str
    options: GenerateOptions


@dataclass
class GenerateWorkerOptions:
    """The long-lived renderer (generate_worker.py): its jobs come as further stdin lines."""

    out_dir: str  # where every job's PNGs are written; the caller reads and removes them


@dataclass
class GenerateWorkerRequest:
    protocol: int
    command: str
    options: GenerateWorkerOptions


@dataclass
class RenderStrengthsOptions:
    """The demo's strength grid: one LoRA, several strengths, the same prompts and seeds."""

    base_model: str
    base_model_facts: BaseModelFacts
    lora: str
    prompts: list[str]
    negative_prompt: str | None
    seeds: list[int]
    strengths: list[float]
    size: int
    steps: int
    guidance_scale: float
    out_dir: str


@dataclass
class RenderStrengthsRequest:
    protocol: int
    command: str
    options: RenderStrengthsOptions


# ---- caption, make-checkpoint, doctor ---------------------------------------------------------


@dataclass
class CaptionOptions:
    """`lora-scripts label --model` (src/label/model-captioner.ts)."""

    model: str
    images: list[str]
    batch_size: int
    task: str  # Florence-2 task prompt
    threshold: float  # WD14: general tags above this
    max_new_tokens: int


@dataclass
class CaptionRequest:
    protocol: int
    command: str
    options: CaptionOptions


@dataclass
class MakeCheckpointOptions:
    family: str
    path: str
    full_size: bool
    seed: int


@dataclass
class MakeCheckpointRequest:
    protocol: int
    command: str
    options: MakeCheckpointOptions


@dataclass
class DoctorRequest:
    protocol: int
    command: str


EngineRequest = (
    TrainRequest
    | GenerateRequest
    | GenerateWorkerRequest
    | RenderStrengthsRequest
    | CaptionRequest
    | MakeCheckpointRequest
    | DoctorRequest
)

REQUEST_TYPES: dict[str, type] = {
    "train": TrainRequest,
    "generate": GenerateRequest,
    "generate-worker": GenerateWorkerRequest,
    "render-strengths": RenderStrengthsRequest,
    "caption": CaptionRequest,
    "make-checkpoint": MakeCheckpointRequest,
    "doctor": DoctorRequest,
}

SETUP_HINT = "the CLI and the engine may come from different versions: run `lora-scripts setup`"


def parse_request(text: str) -> EngineRequest:
    """One stdin line → the typed request of its command; any fault is one `EngineFailure` naming the key."""
    try:
        raw = json.loads(text)
    except ValueError as error:
        raise EngineFailure(
            "bad_request", f"the request is not JSON ({error})", culprit="request", hint=SETUP_HINT
        ) from error
    if not isinstance(raw, dict):
        raise EngineFailure("bad_request", "the request is not a JSON object", culprit="request", hint=SETUP_HINT)
    if raw.get("protocol") != PROTOCOL_VERSION:  # before the fields: another version may name them differently
        raise EngineFailure(
            "protocol_mismatch",
            f"the CLI speaks protocol {raw.get('protocol')}, this engine speaks {PROTOCOL_VERSION}",
            hint="run `lora-scripts setup` so the CLI and the engine come from the same version",
        )
    request_type = REQUEST_TYPES.get(raw.get("command"))  # type: ignore[arg-type]
    if request_type is None:
        raise EngineFailure(
            "unknown_command", f"unknown engine command `{raw.get('command')}`", culprit="command", hint=SETUP_HINT
        )
    return parse_fields(request_type, raw, "")


# ---- the strict parser: dataclass fields and their type hints are the schema -------------------

T = typing.TypeVar("T")

# JSON value check and the words for an error message, per scalar type. bool is an int in Python, so refuse it
# explicitly; an int is a fine float (JSON.stringify writes 2.0 as 2).
SCALARS: dict[type, tuple[typing.Callable[[Any], bool], str]] = {
    str: (lambda v: isinstance(v, str), "a string"),
    bool: (lambda v: isinstance(v, bool), "true or false"),
    int: (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    float: (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number"),
}


def parse_fields(cls: type[T], value: Any, path: str, or_null: bool = False) -> T:
    """A JSON object → `cls`, each field parsed by its type hint; unknown and missing keys are refused."""
    require(isinstance(value, dict), path, "an object", value, or_null)
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    for key in value:
        if key not in hints:
            raise bad_request(key_path(path, key), "is not a field of this request")
    for name in names:
        if name not in value:
            raise bad_request(key_path(path, name), "is missing")
    return cls(**{name: parse_value(hints[name], value[name], key_path(path, name)) for name in names})


def parse_value(hint: Any, value: Any, path: str, or_null: bool = False) -> Any:
    if dataclasses.is_dataclass(hint):
        return parse_fields(hint, value, path, or_null)  # type: ignore[arg-type]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1 or len(args) != 2:
            raise TypeError(f"{path}: a request field may only be `X | None`, not {hint}")
        return None if value is None else parse_value(inner[0], value, path, or_null=True)
    if hint is Any:
        return value
    if origin is list:
        require(isinstance(value, list), path, "a list", value, or_null)
        return [parse_value(args[0], item, f"{path}[{i}]") for i, item in enumerate(value)]
    if origin is tuple:
        require(
            isinstance(value, list) and len(value) == len(args), path, f"a list of {len(args)} items", value, or_null
        )
        return tuple(parse_value(kind, item, f"{path}[{i}]") for i, (kind, item) in enumerate(zip(args, value)))
    if origin is dict:
        require(isinstance(value, dict), path, "an object", value, or_null)
        return {key: parse_value(args[1], item, key_path(path, key)) for key, item in value.items()}
    if hint not in SCALARS:
        raise TypeError(f"{path}: no parser for a request field of type {hint}")
    accepts, words = SCALARS[hint]
    require(accepts(value), path, words, value, or_null)
    return float(value) if hint is float else value


def require(is_ok: bool, path: str, words: str, value: Any, or_null: bool) -> None:
    if not is_ok:
        got = json.dumps(value)
        raise bad_request(
            path, f"must be {words}{' or null' if or_null else ''}, got {got if len(got) <= 60 else got[:57] + '...'}"
        )


def bad_request(path: str, problem: str) -> EngineFailure:
    return EngineFailure("bad_request", f"`{path}` {problem}", culprit=path, hint=SETUP_HINT)


def key_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
