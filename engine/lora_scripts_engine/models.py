"""Loads the base model (single-file .safetensors, diffusers folder or hub id) into one BaseModel.

What a file is (base model or LoRA, VAE…, its family, its prediction type when the header tells) is decided in
TypeScript (src/checkpoint) before the engine starts; this file trusts that verdict, passed as `family` and
`prediction_type`, and only loads. A hub id's family comes from its pipeline once loaded.

Every input goes through diffusers' own loaders: `from_single_file(config=<local folder>)` for
original-layout checkpoints (SD 1.x, SD 2.x, SDXL) and `from_pretrained` for diffusers folders
and hub ids. A local file never touches the network: its configs come from the folders shipped
in model_configs/ (see model_configs/README.md), or from the `lora_scripts.architecture`
metadata that single_file.py writes, and the tokenizers are the shipped files.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import diffusers
import torch
from diffusers import (
    AutoencoderKL,
    DDPMScheduler,
    DiffusionPipeline,
    StableDiffusionPipeline,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
)
from diffusers.loaders.single_file_utils import SingleFileComponentError
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import RemoteEntryNotFoundError, RepositoryNotFoundError
from safetensors import SafetensorError, safe_open
from transformers import CLIPTokenizer

from .lean_load import load_model_as
from .protocol import EngineFailure
from .single_file import ARCHITECTURE_METADATA_KEY

MODEL_CONFIGS_DIR = Path(__file__).parent / "model_configs"
CULPRIT = "base_model"
PIPELINE_CLASSES = {"sd1": StableDiffusionPipeline, "sd2": StableDiffusionPipeline, "sdxl": StableDiffusionXLPipeline}
# OpenCLIP (SD 2.x, SDXL's second encoder) pads with "!" (id 0); OpenAI CLIP pads with <|endoftext|>.
TOKENIZER_FOLDERS = {
    "sd1": ["tokenizer-clip"],
    "sd2": ["tokenizer-clip-pad0"],
    "sdxl": ["tokenizer-clip", "tokenizer-clip-pad0"],
}
PREDICTION_TYPES = ("epsilon", "v_prediction")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
PICKLE_SUFFIXES = {".ckpt", ".pt", ".pth", ".bin"}
VAE_ENCODING_PREFIXES = ("encoder.", "quant_conv.")  # the VAE weights that turn pixels into latents
# Components read by lean_load.py, with the weights that take the training layout: the VAE decoder runs only for
# samples, so it keeps its stored layout and is not even read until then.
LEAN_LOADED = (("unet", UNet2DConditionModel, ("",)), ("vae", AutoencoderKL, VAE_ENCODING_PREFIXES))


@dataclass
class BaseModel:
    """Everything training and sampling need from a base model, however it was stored."""

    family: str  # "sd1" | "sd2" | "sdxl"
    prediction_type: str  # "epsilon" | "v_prediction"
    unet: UNet2DConditionModel
    vae: AutoencoderKL
    text_encoders: list  # [CLIPTextModel] or [CLIPTextModel, CLIPTextModelWithProjection] (sdxl)
    tokenizers: list  # matching CLIPTokenizers
    sampling_scheduler: SchedulerMixin  # the model's own scheduler (PNDM/DDIM/Euler), used by pipeline()
    source: str  # "single_file" | "diffusers_folder" | "hub" | "random" (tiny_models.py)
    noise_scheduler: DDPMScheduler = field(init=False)  # training: derived, so it can never disagree

    def __post_init__(self) -> None:
        self.noise_scheduler = training_noise_scheduler(dict(self.sampling_scheduler.config), self.prediction_type)

    def pipeline(self, scheduler: SchedulerMixin | None = None) -> DiffusionPipeline:
        """A sampling pipeline sharing these modules (no safety checker, no feature extractor)."""
        scheduler = scheduler or self.sampling_scheduler
        if self.family == "sdxl":
            return StableDiffusionXLPipeline(
                vae=self.vae,
                text_encoder=self.text_encoders[0],
                text_encoder_2=self.text_encoders[1],
                tokenizer=self.tokenizers[0],
                tokenizer_2=self.tokenizers[1],
                unet=self.unet,
                scheduler=scheduler,
                add_watermarker=False,
            )
        return StableDiffusionPipeline(
            vae=self.vae,
            text_encoder=self.text_encoders[0],
            tokenizer=self.tokenizers[0],
            unet=self.unet,
            scheduler=scheduler,
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )

    def to(self, device: str | torch.device) -> BaseModel:
        for module in [self.unet, self.vae, *self.text_encoders]:
            module.to(device)
        return self


def training_noise_scheduler(scheduler_config: dict, prediction_type: str) -> DDPMScheduler:
    """The DDPM scheduler training adds noise with (sd-scripts `get_noise_scheduler`)."""
    # Every value is explicit: DDPMScheduler's defaults (linear 1e-4..0.02, clip_sample=True) are not SD's.
    return DDPMScheduler(
        num_train_timesteps=scheduler_config.get("num_train_timesteps", 1000),
        beta_start=scheduler_config.get("beta_start", 0.00085),
        beta_end=scheduler_config.get("beta_end", 0.012),
        beta_schedule="scaled_linear",
        clip_sample=False,
        prediction_type=prediction_type,
    )


def load_base_model(
    spec: str,
    *,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    prediction_type: str | None = None,
    family: str | None = None,
    configs_dir: Path = MODEL_CONFIGS_DIR,
    memory_format: torch.memory_format = torch.contiguous_format,
) -> BaseModel:
    """Loads `spec`: a .safetensors checkpoint, a diffusers folder or a hub id (`owner/name`).

    `family` and `prediction_type` come from TypeScript's checkpoint verdict (or the user's `prediction_type`)
    and are trusted; a single file without them needs its `lora_scripts.architecture` metadata.
    `configs_dir` holds the shipped config folders (sd15/, sd2-v/, sd2-base/, sdxl/, tokenizer-clip*/).
    `memory_format`: the layout training runs convolutions in (speed.conv_memory_format); a diffusers folder's UNet
    and VAE are read into it directly, so no second copy of their weights is ever held.
    """
    if prediction_type not in (None, *PREDICTION_TYPES):
        raise ValueError(f"prediction_type must be one of {PREDICTION_TYPES}, got {prediction_type!r}")
    if family not in (None, *PIPELINE_CLASSES):
        raise ValueError(f"family must be one of {tuple(PIPELINE_CLASSES)}, got {family!r}")
    path = Path(spec).expanduser()
    if path.is_dir():
        model = load_diffusers_folder(path, dtype, prediction_type, family, memory_format)
    elif path.is_file():
        model = load_single_file(path, dtype, prediction_type, family, configs_dir)
    elif HUB_ID.match(spec) and path.suffix.lower() not in {".safetensors", *PICKLE_SUFFIXES}:
        model = load_from_hub(spec, dtype, prediction_type, memory_format)
    else:
        raise EngineFailure(
            "base_model_missing",
            f"`{spec}` does not exist",
            culprit=CULPRIT,
            hint="check `base_model`: a .safetensors file, a diffusers folder or a hub id like `owner/name`",
        )
    return model.to(device)


# ---- single-file checkpoints -------------------------------------------------------------------


def load_single_file(
    path: Path, dtype: torch.dtype, prediction_type: str | None, family: str | None, configs_dir: Path
) -> BaseModel:
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise EngineFailure(
            "unsupported_model_format",
            f"`{path.name}` is a pickle checkpoint ({path.suffix}), which can run code when loaded",
            culprit=CULPRIT,
            hint="convert it to .safetensors (e.g. with the A1111 or ComfyUI checkpoint merger) and use that file",
        )
    architecture = read_architecture(read_checkpoint_metadata(path), path.name)
    family = family or (architecture or {}).get("family")
    if family is None:
        raise EngineFailure(
            "base_model_family_unknown",
            f"`{path.name}` was given without its family",
            culprit=CULPRIT,
            hint="run it through lora-scripts, which reads the family from the file's header (src/checkpoint)",
        )
    preloaded: dict = {}
    if architecture is not None:
        prediction_type = prediction_type or architecture["prediction_type"]
    elif prediction_type is None:
        prediction_type, preloaded = guess_prediction_type(path, family, configs_dir, dtype)
    tokenizers = shipped_tokenizers(family, configs_dir)
    with tempfile.TemporaryDirectory(prefix="lora-scripts-config-") as scratch:
        if architecture is not None:
            config_dir = write_config_folder(Path(scratch), architecture, configs_dir)
        else:
            config_dir = configs_dir / shipped_config_folder(family, prediction_type)
        scheduler = sampling_scheduler_from_folder(config_dir, prediction_type, path.name)
        pipe = pipeline_from_single_file(path, family, config_dir, dtype, scheduler, tokenizers, preloaded)
    return base_model_from_pipeline(pipe, family, prediction_type, source="single_file")


def read_checkpoint_metadata(path: Path) -> dict[str, str]:
    """`__metadata__`, read without loading any tensor (a cut-off file fails here, if TypeScript did not see it)."""
    try:
        with safe_open(str(path), framework="pt") as checkpoint:
            return checkpoint.metadata() or {}
    except (SafetensorError, OSError, ValueError) as err:
        raise EngineFailure(
            "base_model_corrupt",
            f"`{path.name}` is not a readable .safetensors file ({first_line(err)})",
            culprit=CULPRIT,
            hint="the file may be truncated: download it again and compare its size or hash",
        ) from err


def unrecognized(file_name: str, what: str) -> EngineFailure:
    return EngineFailure(
        "base_model_unrecognized",
        f"`{file_name}` {what}",
        culprit=CULPRIT,
        hint="set `base_model` to a full Stable Diffusion checkpoint (SD 1.x, SD 2.x or SDXL .safetensors), "
        "a diffusers folder or a hub id",
    )


def read_architecture(metadata: dict[str, str], file_name: str) -> dict | None:
    """The configs single_file.py stored in the header, or None for a checkpoint from elsewhere.

    TypeScript's verdict already checked it names the weights' family; what is parsed here is what loading needs.
    """
    raw = metadata.get(ARCHITECTURE_METADATA_KEY)
    if raw is None:
        return None
    try:
        architecture = json.loads(raw)
        missing = {"family", "prediction_type", "unet", "vae", "text_encoder", "scheduler"} - set(architecture)
    except (json.JSONDecodeError, TypeError) as err:
        raise corrupt_metadata(file_name, "is not valid JSON") from err
    if missing:
        raise corrupt_metadata(file_name, f"lacks {sorted(missing)}")
    return architecture


def corrupt_metadata(file_name: str, problem: str) -> EngineFailure:
    return EngineFailure(
        "base_model_corrupt",
        f"`{file_name}`: its `{ARCHITECTURE_METADATA_KEY}` metadata {problem}",
        culprit=CULPRIT,
        hint="the file was edited or damaged: rewrite it with lora-scripts or use the original checkpoint",
    )


def shipped_config_folder(family: str, prediction_type: str) -> str:
    if family == "sd2":
        return "sd2-v" if prediction_type == "v_prediction" else "sd2-base"
    return {"sd1": "sd15", "sdxl": "sdxl"}[family]


def write_config_folder(folder: Path, architecture: dict, configs_dir: Path) -> Path:
    """A diffusers-layout config folder built from the metadata, for `from_single_file(config=...)`."""
    family, scheduler = architecture["family"], architecture["scheduler"]
    template = configs_dir / shipped_config_folder(family, architecture["prediction_type"])
    model_index = json.loads((template / "model_index.json").read_text())
    model_index["scheduler"] = ["diffusers", scheduler["_class_name"]]
    files = {
        "model_index.json": model_index,
        "scheduler/scheduler_config.json": scheduler,
        "unet/config.json": {"_class_name": "UNet2DConditionModel", **architecture["unet"]},
        "vae/config.json": {"_class_name": "AutoencoderKL", **architecture["vae"]},
        "text_encoder/config.json": architecture["text_encoder"],
    }
    if family == "sdxl":
        files["text_encoder_2/config.json"] = architecture["text_encoder_2"]
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(json.dumps(content, indent=2))
    return folder


def sampling_scheduler_from_folder(config_dir: Path, prediction_type: str, file_name: str) -> SchedulerMixin:
    config = json.loads((config_dir / "scheduler" / "scheduler_config.json").read_text())
    scheduler_class = getattr(diffusers, str(config.get("_class_name")), None)
    if not (isinstance(scheduler_class, type) and issubclass(scheduler_class, SchedulerMixin)):
        raise corrupt_metadata(file_name, f"names an unknown scheduler `{config.get('_class_name')}`")
    return scheduler_class.from_config(config, prediction_type=prediction_type)


def shipped_tokenizers(family: str, configs_dir: Path) -> list[CLIPTokenizer]:
    return [CLIPTokenizer.from_pretrained(configs_dir / folder) for folder in TOKENIZER_FOLDERS[family]]


def guess_prediction_type(path: Path, family: str, configs_dir: Path, dtype: torch.dtype) -> tuple[str, dict]:
    """Original checkpoints do not record their prediction type; returns it and any UNet built to find it.

    Reached only when TypeScript's verdict could not tell from the header (ComfyUI's `v_pred` marker, SD 1.x and
    SDXL are decided there). SD 2.x comes as 2.x-768 (v) or 2.x-base (epsilon) with identical keys, so it gets
    A1111's test (modules/sd_models_config.py, `is_using_v_parameterization_for_sd2`); everything else is epsilon.
    """
    if family != "sd2":
        return "epsilon", {}
    with loader_errors_as_failures(path.name, family):
        unet = UNet2DConditionModel.from_single_file(
            str(path), config=str(configs_dir / "sd2-v"), subfolder="unet", local_files_only=True, dtype=torch.float32
        )
    if is_v_prediction_unet(unet):
        return "v_prediction", {"unet": unet.to(dtype)}
    return "epsilon", {}  # this UNet has the sd2-v config; from_single_file builds the sd2-base one


def is_v_prediction_unet(unet: torch.nn.Module) -> bool:
    """At t=999 on a constant input a v-model predicts roughly -x, an epsilon model roughly noise."""
    cross_attention_dim = unet.config.cross_attention_dim
    with torch.no_grad():
        sample = torch.full((1, 4, 8, 8), 0.5)
        context = torch.full((1, 2, cross_attention_dim), 0.5)
        output = unet(sample, torch.tensor([999]), encoder_hidden_states=context).sample
    return (output - sample).mean().item() < -1


def pipeline_from_single_file(
    path: Path,
    family: str,
    config_dir: Path,
    dtype: torch.dtype,
    scheduler: SchedulerMixin,
    tokenizers: list[CLIPTokenizer],
    preloaded: dict,
) -> DiffusionPipeline:
    # Tokenizers and the scheduler are passed in, so from_single_file reads only model configs
    # from config_dir, and the shipped config folders need no tokenizer copies.
    passed = {"scheduler": scheduler, "tokenizer": tokenizers[0], **preloaded}
    if family == "sdxl":
        passed["tokenizer_2"] = tokenizers[1]
    with loader_errors_as_failures(path.name, family):
        return PIPELINE_CLASSES[family].from_single_file(
            str(path), config=str(config_dir), local_files_only=True, dtype=dtype, **passed
        )


@contextmanager
def loader_errors_as_failures(name: str, family: str) -> Iterator[None]:
    """diffusers reports weights that do not fit the config as ValueError/RuntimeError: say it in one line."""
    try:
        yield
    except NotImplementedError as err:
        # diffusers builds modules on the meta device and fills them from the file; casting one
        # with a weight left unfilled fails with "Cannot copy out of meta tensor".
        raise EngineFailure(
            "base_model_incomplete",
            f"`{name}` lacks some weights of the {family} architecture",
            culprit=CULPRIT,
            hint="the checkpoint is pruned or damaged: use a full checkpoint or a diffusers folder",
        ) from err
    except (ValueError, RuntimeError, KeyError, SingleFileComponentError) as err:
        raise unrecognized(name, f"does not match the {family} architecture ({first_line(err)})") from err


# ---- diffusers folders and hub ids ----------------------------------------------------------


def load_diffusers_folder(
    folder: Path,
    dtype: torch.dtype,
    prediction_type: str | None,
    family: str | None,
    memory_format: torch.memory_format,
) -> BaseModel:
    name = f"{folder.name}/"
    if not (folder / "model_index.json").is_file():
        raise unrecognized(name, "has no `model_index.json`, so it is not a diffusers model folder")
    try:
        pipe = load_pretrained_pipeline(
            str(folder), folder / "model_index.json", dtype, memory_format, local_files_only=True
        )
    except (OSError, ValueError, RuntimeError) as err:
        raise unrecognized(name, f"is not a loadable diffusers folder ({first_line(err)})") from err
    return base_model_from_pretrained(pipe, prediction_type, source="diffusers_folder", family=family)


def load_from_hub(
    repo_id: str, dtype: torch.dtype, prediction_type: str | None, memory_format: torch.memory_format
) -> BaseModel:
    try:
        index_file = Path(hf_hub_download(repo_id, "model_index.json"))
        pipe = load_pretrained_pipeline(repo_id, index_file, dtype, memory_format, local_files_only=False)
    except RepositoryNotFoundError as err:  # before OSError: it is one
        raise EngineFailure(
            "base_model_missing",
            f"`{repo_id}` is neither a local path nor a hub model you can access",
            culprit=CULPRIT,
            hint="check `base_model`; a private hub model needs `hf auth login`",
        ) from err
    except RemoteEntryNotFoundError as err:
        raise unrecognized(repo_id, "is a hub repo without `model_index.json`, so not a diffusers model") from err
    except OSError as err:  # LocalEntryNotFoundError, OfflineModeIsEnabled, connection failures
        raise EngineFailure(
            "base_model_offline",
            f"cannot download hub model `{repo_id}`: no network and it is not in the local cache",
            culprit=CULPRIT,
            hint="connect once so it is cached, or set `base_model` to a local .safetensors file "
            "or diffusers folder (if `base_model` is a local path, it does not exist)",
        ) from err
    return base_model_from_pretrained(pipe, prediction_type, source="hub")


def load_pretrained_pipeline(
    name: str, index_file: Path, dtype: torch.dtype, memory_format: torch.memory_format, *, local_files_only: bool
) -> DiffusionPipeline:
    class_name = json.loads(index_file.read_text()).get("_class_name")
    pipeline_class = {cls.__name__: cls for cls in (StableDiffusionPipeline, StableDiffusionXLPipeline)}.get(class_name)
    if pipeline_class is None:
        raise unrecognized(
            name,
            f"is a `{class_name}`; only StableDiffusionPipeline and StableDiffusionXLPipeline models are supported",
        )
    # The safety checker (1.2 GB in SD 1.5) has no part in training or sampling previews.
    skipped = {"safety_checker": None, "feature_extractor": None, "requires_safety_checker": False}
    extra = dict(skipped) if pipeline_class is StableDiffusionPipeline else {}
    for component, model_class, layout_prefixes in LEAN_LOADED:
        model = load_model_as(model_class, index_file.parent / component, dtype, memory_format, layout_prefixes)
        if model is not None:  # None: diffusers loads it (already lean there)
            extra[component] = model
    return pipeline_class.from_pretrained(name, dtype=dtype, local_files_only=local_files_only, **extra)


def base_model_from_pretrained(
    pipe: DiffusionPipeline, prediction_type: str | None, source: str, family: str | None = None
) -> BaseModel:
    if family is None:  # a hub id: TypeScript could not read its configs before the download
        # SD 2.x's OpenCLIP-H uses gelu; the OpenAI CLIP of SD 1.x uses quick_gelu (also true of tiny models).
        is_sdxl = isinstance(pipe, StableDiffusionXLPipeline)
        family = "sdxl" if is_sdxl else "sd2" if pipe.text_encoder.config.hidden_act == "gelu" else "sd1"
    prediction_type = prediction_type or pipe.scheduler.config.get("prediction_type", "epsilon")
    pipe.scheduler = type(pipe.scheduler).from_config(pipe.scheduler.config, prediction_type=prediction_type)
    return base_model_from_pipeline(pipe, family, prediction_type, source)


def base_model_from_pipeline(pipe: DiffusionPipeline, family: str, prediction_type: str, source: str) -> BaseModel:
    is_sdxl = family == "sdxl"
    return BaseModel(
        family=family,
        prediction_type=prediction_type,
        unet=pipe.unet,
        vae=pipe.vae,
        text_encoders=[pipe.text_encoder, pipe.text_encoder_2] if is_sdxl else [pipe.text_encoder],
        tokenizers=[pipe.tokenizer, pipe.tokenizer_2] if is_sdxl else [pipe.tokenizer],
        sampling_scheduler=pipe.scheduler,
        source=source,
    )


def first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
