"""`caption`: drafts a caption per image with BLIP, Florence-2 or a WD14-style ONNX tagger, in batches.

The model kind comes from the folder (or hub repo): `config.json` model_type `blip` or `florence2`
loads through transformers; `*.onnx` + `selected_tags.csv` is a WD14 tagger run by onnxruntime.
Emits one `caption` event per image (with its index, for progress); the CLI merges them into metadata.csv.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from .device import Compute
from .protocol import EngineFailure, emit, log
from .request import CaptionOptions

CULPRIT = "--model"
HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")
TAGS_FILE = "selected_tags.csv"
# WD14 `selected_tags.csv` categories (SmilingWolf taggers): 0 general, 4 character, 9 rating (dropped).
GENERAL, CHARACTER = 0, 4
CHARACTER_THRESHOLD = 0.85  # character tags misfire more; 0.85 is what the WD14 taggers' own demo uses
WD14_DEFAULT_SIZE = 448
WHITE = (255, 255, 255)

Captioner = Callable[[list[Image.Image]], list[str]]


def caption_images(request: CaptionOptions, compute: Compute) -> None:
    kind, captioner = load_captioner(request, compute)
    emit(
        "stage", name="load_model", message=f"captioning {len(request.images)} images with {kind} model {request.model}"
    )
    total = len(request.images)
    for start in range(0, total, request.batch_size):
        paths = request.images[start : start + request.batch_size]
        captions = captioner([open_image(path) for path in paths])
        for offset, (path, caption) in enumerate(zip(paths, captions, strict=True)):
            emit("caption", image=path, caption=caption.strip(), index=start + offset + 1, total=total)
    emit("done", files=[])


def open_image(path: str) -> Image.Image:
    """RGB, upright, transparency flattened onto white (what every captioner here expects)."""
    try:
        image = ImageOps.exif_transpose(Image.open(path))
    except OSError as err:
        raise EngineFailure(
            "image_unreadable", f"cannot read the image ({err})", culprit=path, hint="remove or re-save the file"
        ) from err
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        flat = Image.new("RGB", image.size, WHITE)
        flat.paste(image, mask=image.getchannel("A"))
        return flat
    return image.convert("RGB")


# ---- which model ------------------------------------------------------------------------------


def load_captioner(request: CaptionOptions, compute: Compute) -> tuple[str, Captioner]:
    path = Path(request.model).expanduser()
    if path.is_dir():
        kind, source = kind_of_folder(path), str(path)
    elif HUB_ID.match(request.model) and not path.exists():
        kind, source = kind_of_hub_repo(request.model)
    else:
        raise EngineFailure("model_missing", "is not a model folder", culprit=request.model, hint=MODEL_HINT)
    log(f"caption: {kind} model from {source}")
    if kind == "wd14":
        return kind, wd14_captioner(Path(source), request.threshold)
    return kind, transformers_captioner(kind, source, request, compute)


MODEL_HINT = (
    "give a BLIP or Florence-2 folder (with config.json), a WD14 tagger folder (*.onnx + selected_tags.csv), "
    "or a hub id like `Salesforce/blip-image-captioning-base`"
)


def kind_of_folder(folder: Path) -> str:
    if (folder / TAGS_FILE).is_file() and any(folder.glob("*.onnx")):
        return "wd14"
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise EngineFailure(
            "model_unrecognized",
            "has no config.json and no *.onnx + selected_tags.csv",
            culprit=str(folder),
            hint=MODEL_HINT,
        )
    return kind_of_config(json.loads(config_file.read_text()), str(folder))


def kind_of_config(config: dict, name: str) -> str:
    model_type = config.get("model_type")
    if model_type == "florence2" and "auto_map" in config:
        # microsoft/Florence-2-* ship their own modeling code; transformers' native class needs the converted weights.
        raise EngineFailure(
            "model_remote_code",
            "is a Florence-2 checkpoint that needs remote code",
            culprit=name,
            hint="use the transformers-native conversion, e.g. `florence-community/Florence-2-base`",
        )
    if model_type in ("blip", "florence2"):
        return model_type
    raise EngineFailure(
        "model_unrecognized",
        f"is a `{model_type}` model; auto-label runs BLIP, Florence-2 and WD14 taggers",
        culprit=name,
        hint=MODEL_HINT,
    )


def kind_of_hub_repo(repo_id: str) -> tuple[str, str]:
    """A repo with selected_tags.csv is a WD14 tagger (downloaded as files); otherwise config.json decides."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError, RemoteEntryNotFoundError, RepositoryNotFoundError

    try:
        try:
            tags = Path(hf_hub_download(repo_id, TAGS_FILE))
            hf_hub_download(repo_id, "model.onnx")
            return "wd14", str(tags.parent)
        except (
            RemoteEntryNotFoundError,
            LocalEntryNotFoundError,
        ):  # not a tagger, or offline: a cached BLIP still loads
            config = json.loads(Path(hf_hub_download(repo_id, "config.json")).read_text())
            return kind_of_config(config, repo_id), repo_id
    except RepositoryNotFoundError as err:  # before OSError: it is one
        raise EngineFailure(
            "model_missing",
            "is neither a local folder nor a hub model you can access",
            culprit=repo_id,
            hint="check the path or hub id; a private hub model needs `hf auth login`",
        ) from err
    except RemoteEntryNotFoundError as err:
        raise EngineFailure(
            "model_unrecognized",
            "is a hub repo without config.json or selected_tags.csv",
            culprit=repo_id,
            hint=MODEL_HINT,
        ) from err
    except OSError as err:  # offline, not cached, connection failures
        raise EngineFailure(
            "model_offline",
            "cannot download the hub model: no network and it is not in the local cache",
            culprit=repo_id,
            hint="connect once so it is cached, or pass a local model folder (if it is a local path, it does not exist)",
        ) from err


# ---- BLIP and Florence-2 (transformers) -------------------------------------------------------


def transformers_captioner(kind: str, source: str, request: CaptionOptions, compute: Compute) -> Captioner:
    import torch
    from transformers import AutoProcessor, BlipForConditionalGeneration, Florence2ForConditionalGeneration

    # Without torchvision, transformers 5 picks the PIL image processors by itself (the fast ones need it).
    model_class = BlipForConditionalGeneration if kind == "blip" else Florence2ForConditionalGeneration
    processor = AutoProcessor.from_pretrained(source)
    model = model_class.from_pretrained(source, dtype=compute.dtype).to(compute.device).eval()

    @torch.inference_mode()
    def caption(images: list[Image.Image]) -> list[str]:
        prompts = {} if kind == "blip" else {"text": [request.task] * len(images)}
        inputs = processor(images=images, return_tensors="pt", **prompts).to(compute.device, compute.dtype)
        # Beam search as in the model cards: greedy decoding repeats itself on long captions.
        ids = model.generate(**inputs, max_new_tokens=request.max_new_tokens, num_beams=3)
        return processor.batch_decode(ids, skip_special_tokens=True)

    return caption


# ---- WD14 taggers (onnxruntime) ---------------------------------------------------------------


def wd14_captioner(folder: Path, threshold: float) -> Captioner:
    import onnxruntime

    model_file = sorted(folder.glob("*.onnx"))[0]
    tags = read_tags(folder / TAGS_FILE)
    available = onnxruntime.get_available_providers()
    providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
    session = onnxruntime.InferenceSession(str(model_file), providers=providers)
    model_input = session.get_inputs()[0]
    size = model_input.shape[1] if isinstance(model_input.shape[1], int) else WD14_DEFAULT_SIZE
    log(f"caption: {model_file.name} on {session.get_providers()[0]}, {size} px, {len(tags)} tags")

    def caption(images: list[Image.Image]) -> list[str]:
        pixels = np.stack([wd14_pixels(image, size) for image in images])
        probabilities = session.run(None, {model_input.name: pixels})[0]
        if probabilities.shape[1] != len(tags):
            raise EngineFailure(
                "model_unrecognized",
                f"outputs {probabilities.shape[1]} scores but {TAGS_FILE} lists {len(tags)} tags",
                culprit=str(model_file),
                hint="use the selected_tags.csv that came with the model",
            )
        return [", ".join(select_tags(row, tags, threshold)) for row in probabilities]

    return caption


def read_tags(path: Path) -> list[tuple[str, int]]:
    """`tag_id,name,category,count` rows → (name, category)."""
    with path.open(newline="", encoding="utf-8") as file:
        return [(row["name"], int(row["category"])) for row in csv.DictReader(file)]


def wd14_pixels(image: Image.Image, size: int) -> np.ndarray:
    """The WD14 input: padded to a white square, resized, BGR, float32 0–255, HWC (the batch makes it NHWC)."""
    side = max(image.size)
    square = Image.new("RGB", (side, side), WHITE)
    square.paste(image, ((side - image.width) // 2, (side - image.height) // 2))
    square = square.resize((size, size), Image.Resampling.BICUBIC)
    return np.ascontiguousarray(np.asarray(square, dtype=np.float32)[:, :, ::-1])


def select_tags(probabilities: np.ndarray, tags: list[tuple[str, int]], threshold: float) -> list[str]:
    """General tags above `threshold`, character tags above 0.85, most confident first; ratings dropped."""
    picked = [
        (float(p), name)
        for p, (name, category) in zip(probabilities, tags)
        if (category == GENERAL and p > threshold) or (category == CHARACTER and p > CHARACTER_THRESHOLD)
    ]
    picked.sort(key=lambda pair: -pair[0])
    return [tag_text(name) for _, name in picked]


def tag_text(name: str) -> str:
    """`long_hair` → `long hair`; kaomoji such as `^_^` or `o_o` keep their underscore (it is the mouth)."""
    return name.replace("_", " ") if re.search(r"[a-z]{2}", name) else name
