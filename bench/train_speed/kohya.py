"""kohya sd-scripts' train_network.py as a benchmarked trainer: its venv, and the command line for one run.

The venv (~/.cache/lora-scripts/bench-venv-kohya) holds kohya's own pins (kohya-requirements.txt) and sees the engine
venv's torch 2.13.0 CPU build through a .pth file placed AFTER its own site-packages, so kohya's diffusers 0.32.1,
transformers 4.54.1 and accelerate 1.6.0 win over the engine's newer ones while torch is the very same build. Nothing of
kohya's is edited, patched or committed: the checkout is given by path and run as it is, with the benchmark's
torchvision stand-in served to its imports (kohya uses torchvision.transforms for ToTensor + Normalize only).

Two things kohya's command line cannot say directly, done with its own options:
- Targets: networks.lora puts LoRA on every Linear / 1x1 Conv inside each Transformer2DModel (proj_in, proj_out, the
  feed-forward too). To train only attention's to_q/to_k/to_v/to_out like ours, the run starts from an initial LoRA
  file that holds exactly those modules (lora_down drawn like kohya's own kaiming-uniform init, lora_up zero) and
  passes `--network_weights FILE --dim_from_weights`, which makes networks.lora create only the modules in the file.
- Tokenizer: kohya fetches openai/clip-vit-large-patch14's tokenizer from the hub; `--tokenizer_cache_dir` points it at
  the CLIP tokenizer the engine ships instead (offline machine).
And one thing about the model folder: transformers 5 saves CLIPTextModel without the `text_model.` key prefix that
kohya's transformers 4.54 expects (it would silently start from a random text encoder), so kohya reads a view of the
folder in its work dir: links to the UNet, VAE and scheduler, and a text encoder whose keys carry the prefix.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import random
import shutil
import struct
import subprocess
import sys
from array import array
from pathlib import Path

from .paths import CACHE, ENGINE_VENV_PYTHON, REPO, STEP_TIMER_DIR, TORCHVISION_STANDIN_FINDER

KOHYA_VENV = CACHE / "bench-venv-kohya"
REQUIREMENTS = Path(__file__).resolve().parent / "kohya-requirements.txt"
CONSTRAINTS = REPO / "engine" / "constraints-cpu.txt"  # pins torch==2.13.0: pip sees the engine's build and keeps it
SHIPPED_CLIP_TOKENIZER = REPO / "engine" / "lora_scripts_engine" / "model_configs" / "tokenizer-clip"
KOHYA_TOKENIZER_ID = "openai_clip-vit-large-patch14"  # the folder name kohya looks for in --tokenizer_cache_dir
STAMP_NAME = "lora-scripts-stamp.json"
# kohya's SD 1.x UNet (library/original_unet.py) is built with these fixed shapes whatever the folder's config says.
KOHYA_SD1_UNET = {"block_out_channels": [320, 640, 1280, 1280], "layers_per_block": 2}
ATTENTION_PROJECTIONS = ("to_q", "to_k", "to_v", "to_out_0")


class KohyaCannotRun(Exception):
    """The given model or settings are outside what kohya's train_network.py can train; the message says why."""


# ---------------------------------------------------------------------------------------------------------- venv


def kohya_env(kohya_src: str) -> str | None:
    """Sets up the kohya venv once (rebuilt when the pins change); returns its python, or None after printing why not."""
    if not (Path(kohya_src) / "train_network.py").is_file():
        print(f"kohya: skipped: {kohya_src} has no train_network.py (expected a checkout of kohya-ss/sd-scripts)")
        return None
    python = KOHYA_VENV / "bin" / "python"
    stamp = venv_stamp()
    KOHYA_VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(KOHYA_VENV.with_name(KOHYA_VENV.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two benchmark runs at once must not build the same venv together
        if read_stamp(python) == stamp:
            return str(python)
        print(f"kohya: setting up {KOHYA_VENV} (kohya's pins + the engine venv's torch; once)")
        try:
            build_venv(python)
            check_venv(python)
        except (subprocess.CalledProcessError, RuntimeError) as failure:
            print(f"kohya: skipped: its venv could not be set up: {failure}")
            return None
        (site_packages(python) / STAMP_NAME).write_text(json.dumps(stamp))
    return str(python)


def venv_stamp() -> dict:
    pins = hashlib.sha256(REQUIREMENTS.read_bytes() + CONSTRAINTS.read_bytes()).hexdigest()
    return {"pins": pins, "engine_site_packages": engine_site_packages()}


def read_stamp(python: Path) -> dict | None:
    if not python.exists():
        return None
    try:
        return json.loads((site_packages(python) / STAMP_NAME).read_text())
    except (OSError, ValueError, subprocess.CalledProcessError):
        return None


def build_venv(python: Path) -> None:
    subprocess.run([str(ENGINE_VENV_PYTHON), "-m", "venv", "--clear", "--without-pip", str(KOHYA_VENV)], check=True)
    # A .pth line is appended to sys.path after the venv's own site-packages: kohya's pins shadow the engine's.
    (site_packages(python) / "engine-venv.pth").write_text(engine_site_packages() + "\n")
    # The engine venv's pip installs into the kohya venv. It sees the engine's packages (through the .pth) as installed:
    # torch satisfies the constraint and is never fetched; packages kohya pins differently go into the kohya venv, and
    # pip leaves the engine's copies alone ("outside environment").
    subprocess.run(
        [
            str(ENGINE_VENV_PYTHON),
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-input",
            "--disable-pip-version-check",
            "-c",
            str(CONSTRAINTS),
            "-r",
            str(REQUIREMENTS),
        ],
        check=True,
    )


def check_venv(python: Path) -> None:
    """The kohya venv must run the engine's torch, never a torchvision wheel, and kohya's pinned libraries."""
    code = (
        "import importlib.util, json, torch, diffusers, transformers, accelerate;"
        "print(json.dumps([torch.__file__, bool(importlib.util.find_spec('torchvision')),"
        " diffusers.__version__, transformers.__version__, accelerate.__version__]))"
    )
    torch_file, has_torchvision, *versions = json.loads(subprocess.check_output([str(python), "-c", code], text=True))
    if not torch_file.startswith(engine_site_packages()):
        raise RuntimeError(f"it imports torch from {torch_file}, not from the engine venv")
    if has_torchvision:
        raise RuntimeError(f"a torchvision got installed into {KOHYA_VENV}; remove it")
    if versions != [pinned("diffusers"), pinned("transformers"), pinned("accelerate")]:
        raise RuntimeError(f"diffusers/transformers/accelerate are {versions}, not kohya's pins")


def pinned(package: str) -> str:
    lines = REQUIREMENTS.read_text().splitlines()
    return next(line.split("==")[1] for line in lines if line.startswith(package + "=="))


def engine_site_packages() -> str:
    return site_packages(ENGINE_VENV_PYTHON).as_posix()


def site_packages(python: Path) -> Path:
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    return Path(subprocess.check_output([str(python), "-c", code], text=True).strip())


def installed_versions(python: str) -> dict[str, str]:
    """Name → version of every distribution the kohya venv imports (the first on its path), marking the engine's."""
    code = (
        "import importlib.metadata as m, json;"
        "print(json.dumps([[d.metadata['Name'], d.version, str(d.locate_file(''))] for d in m.distributions()]))"
    )
    own = str(site_packages(Path(python)))
    versions: dict[str, str] = {}
    for name, version, where in json.loads(subprocess.check_output([python, "-c", code], text=True)):
        versions.setdefault(
            name.lower().replace("_", "-"), version + ("" if where.startswith(own) else " (engine venv)")
        )
    return versions


# ----------------------------------------------------------------------------------------------------------- run


def kohya_run(
    kohya_src: str, python: str, model_dir: str, data_dir: str, work_dir: str, settings: dict
) -> tuple[list[str], dict[str, str]]:
    """argv and extra env for one train_network.py run; writes its dataset toml, initial LoRA and tokenizer link.

    settings: resolution, batch_size, rank, alpha, learning_rate, epochs, seed, target, precision ("no" | "bf16"), and
    optionally cache_latents (kohya's own in-memory latent cache, off by default as in kohya).
    """
    unet_config = json.loads((Path(model_dir) / "unet" / "config.json").read_text())
    check_kohya_can_train(unet_config, settings)
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    model_view = write_model_view(Path(model_dir), work / "model")
    dataset_toml = write_dataset_toml(work / "dataset.toml", data_dir, settings)
    initial_lora = write_initial_lora(work / "initial-lora.safetensors", unet_config, settings)
    tokenizers = link_tokenizer(work / "tokenizers")
    argv = [
        python,
        str(Path(kohya_src) / "train_network.py"),
        "--pretrained_model_name_or_path",
        str(model_view),
        "--dataset_config",
        str(dataset_toml),
        "--tokenizer_cache_dir",
        str(tokenizers),
        "--output_dir",
        str(work / "output"),
        "--output_name",
        "kohya-lora",
        "--save_model_as",
        "safetensors",
        "--network_module",
        "networks.lora",
        "--network_train_unet_only",
        "--network_dim",
        str(settings["rank"]),
        "--network_alpha",
        str(settings["alpha"]),
        "--network_weights",
        str(initial_lora),
        "--dim_from_weights",
        "--optimizer_type",
        "AdamW",
        "--learning_rate",
        str(settings["learning_rate"]),
        "--lr_scheduler",
        "constant",
        "--max_train_epochs",
        str(settings["epochs"]),
        "--seed",
        str(settings["seed"]),
        "--mixed_precision",
        settings["precision"],
        "--sdpa",  # torch's scaled_dot_product_attention, as ours uses; kohya's default is its own slow attention
    ]
    if settings.get("cache_latents"):
        argv.append("--cache_latents")
    # step_timer/sitecustomize.py installs the stand-in's finder when LORA_SCRIPTS_BENCH_TORCHVISION_STANDIN names it.
    env = {
        "PYTHONPATH": str(STEP_TIMER_DIR),
        "LORA_SCRIPTS_BENCH_TORCHVISION_STANDIN": str(TORCHVISION_STANDIN_FINDER),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    return argv, env


def check_kohya_can_train(unet_config: dict, settings: dict) -> None:
    if settings["target"] not in ("unet-attention", "attention", "unet_attention"):
        raise KohyaCannotRun(f"target {settings['target']!r}: only UNet attention (to_q/to_k/to_v/to_out) is wired up")
    shapes = {key: unet_config[key] for key in KOHYA_SD1_UNET}
    if shapes != KOHYA_SD1_UNET or unet_config.get("cross_attention_dim") != 768:
        raise KohyaCannotRun(
            f"kohya's SD 1.x UNet has SD 1.5's fixed shapes {KOHYA_SD1_UNET} and cross-attention 768; this model has "
            f"{shapes} and {unet_config.get('cross_attention_dim')} (its load_state_dict would fail)"
        )


def write_dataset_toml(path: Path, data_dir: str, settings: dict) -> Path:
    """One subset of `.txt`-captioned images, no repeats; kohya's defaults otherwise (no buckets, no shuffling)."""
    path.write_text(
        "[general]\n"
        'caption_extension = ".txt"\n'
        "[[datasets]]\n"
        f"resolution = {int(settings['resolution'])}\n"
        f"batch_size = {int(settings['batch_size'])}\n"
        "[[datasets.subsets]]\n"
        f"image_dir = {json.dumps(str(data_dir))}\n"
        "num_repeats = 1\n"
    )
    return path


def link_tokenizer(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / KOHYA_TOKENIZER_ID
    if not link.exists():
        link.symlink_to(SHIPPED_CLIP_TOKENIZER, target_is_directory=True)
    return folder


# ------------------------------------------------------------------------------------------------ model folder


def write_model_view(model_dir: Path, view: Path) -> Path:
    """The diffusers folder as transformers 4.54 reads it: everything linked, but the text encoder's weights rewritten
    with the `text_model.` prefix when they lack it (a copy of ~0.5 GB for SD 1.5, made once per work dir and model)."""
    source_marker = view / "lora-scripts-source.txt"
    if view.exists() and (not source_marker.exists() or source_marker.read_text() != str(model_dir.resolve())):
        shutil.rmtree(view)
    view.mkdir(parents=True, exist_ok=True)
    source_marker.write_text(str(model_dir.resolve()))
    for entry in model_dir.iterdir():
        link = view / entry.name
        if entry.name != "text_encoder" and not link.exists():
            link.symlink_to(entry.resolve(), target_is_directory=entry.is_dir())
    encoder = view / "text_encoder"
    encoder.mkdir(exist_ok=True)
    for entry in (model_dir / "text_encoder").iterdir():
        link = encoder / entry.name
        if entry.suffix != ".safetensors" and not link.exists():
            link.symlink_to(entry.resolve())
        elif entry.suffix == ".safetensors" and not link.exists():
            copy_with_key_prefix(entry, link, "text_model.")
    return view


def copy_with_key_prefix(source: Path, dest: Path, prefix: str) -> None:
    """Copies a safetensors file, renaming each tensor `k` to `prefix + k` (unless it has it); the data is unchanged."""
    with source.open("rb") as weights:
        length = struct.unpack("<Q", weights.read(8))[0]
        header = json.loads(weights.read(length))
        renamed = {
            (name if name == "__metadata__" or name.startswith(prefix) else prefix + name): entry
            for name, entry in header.items()
        }
        header_bytes = json.dumps(renamed).encode()
        header_bytes += b" " * (-len(header_bytes) % 8)
        partial = dest.with_name(dest.name + ".partial")
        with partial.open("wb") as out:
            out.write(struct.pack("<Q", len(header_bytes)) + header_bytes)
            shutil.copyfileobj(weights, out, 16 << 20)
    partial.replace(dest)


# --------------------------------------------------------------------------------------------- initial LoRA file


def attention_layers(unet_config: dict) -> list[tuple[str, int, int]]:
    """(kohya LoRA name prefix, channels, cross-attention width) of every Transformer2DModel, in diffusers' layout."""
    channels = unet_config["block_out_channels"]
    per_block = unet_config["layers_per_block"]
    cross = unet_config["cross_attention_dim"]
    layers = []
    for block, kind in enumerate(unet_config["down_block_types"]):
        if kind.startswith("CrossAttn"):
            layers += [(f"down_blocks_{block}_attentions_{i}", channels[block], cross) for i in range(per_block)]
    layers.append(("mid_block_attentions_0", channels[-1], cross))
    for block, kind in enumerate(unet_config["up_block_types"]):
        if kind.startswith("CrossAttn"):
            width = list(reversed(channels))[block]
            layers += [(f"up_blocks_{block}_attentions_{i}", width, cross) for i in range(per_block + 1)]
    return layers


def initial_lora_tensors(unet_config: dict, rank: int, alpha: float, seed: int) -> dict[str, tuple[list[int], array]]:
    """to_q/to_k/to_v/to_out of attn1 (self) and attn2 (cross) in every transformer block, initialised like kohya's
    LoRAModule: lora_down uniform in ±1/sqrt(in_features) (kaiming_uniform_ with a=sqrt(5)), lora_up zero."""
    rng = random.Random(seed)
    tensors = {}
    for prefix, width, cross in attention_layers(unet_config):
        for attention, context in (("attn1", width), ("attn2", cross)):
            for projection in ATTENTION_PROJECTIONS:
                name = f"lora_unet_{prefix}_transformer_blocks_0_{attention}_{projection}"
                fan_in = context if projection in ("to_k", "to_v") else width
                bound = 1 / math.sqrt(fan_in)
                tensors[f"{name}.lora_down.weight"] = (
                    [rank, fan_in],
                    array("f", (rng.uniform(-bound, bound) for _ in range(rank * fan_in))),
                )
                tensors[f"{name}.lora_up.weight"] = ([width, rank], array("f", bytes(4 * width * rank)))
                tensors[f"{name}.alpha"] = ([], array("f", [float(alpha)]))
    return tensors


def write_initial_lora(path: Path, unet_config: dict, settings: dict) -> Path:
    tensors = initial_lora_tensors(unet_config, int(settings["rank"]), float(settings["alpha"]), int(settings["seed"]))
    write_safetensors_f32(path, tensors)
    return path


def write_safetensors_f32(path: Path, tensors: dict[str, tuple[list[int], array]]) -> None:
    """A float32 safetensors file (8-byte little-endian header length, JSON header, raw data), without torch."""
    header, offset = {}, 0
    for name, (shape, values) in tensors.items():
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + 4 * len(values)]}
        offset += 4 * len(values)
    header_bytes = json.dumps(header).encode()
    header_bytes += b" " * (-len(header_bytes) % 8)
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as out:
        out.write(struct.pack("<Q", len(header_bytes)) + header_bytes)
        for _, values in tensors.values():
            if sys.byteorder == "big":
                values = array("f", values)
                values.byteswap()
            out.write(values.tobytes())
    partial.replace(path)
