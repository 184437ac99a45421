"""The same captioned images in each trainer's format: metadata.csv (ours), an imagefolder with metadata.jsonl
(diffusers' script), `.txt` captions beside the images (kohya)."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

from .paths import REPO

DEMO_STYLE = "jiangnan"
DATA_SEED = 0


def prepare_data(work: Path, images: int, resolution: int) -> dict[str, Path]:
    """Draws `images` demo pictures at `resolution` once and lays them out for every trainer."""
    ours = work / "data-ours"
    subprocess.run(
        [
            "node",
            str(REPO / "bin" / "lora-scripts.mjs"),
            "demo-data",
            "--style",
            DEMO_STYLE,
            "--count",
            str(images),
            "--seed",
            str(DATA_SEED),
            "--size",
            str(resolution),
            "--out",
            str(ours),
        ],
        check=True,
        capture_output=True,
    )
    captions = read_metadata_csv(ours / "metadata.csv")
    diffusers = write_imagefolder(ours, captions, work / "data-diffusers")
    kohya = write_txt_captions(ours, captions, work / "data-kohya")
    return {"ours": ours, "diffusers": diffusers, "kohya": kohya}


def read_metadata_csv(path: Path) -> dict[str, str]:
    with path.open(newline="") as rows:
        reader = csv.reader(rows)
        next(reader)  # header: file_name, caption
        return {row[0]: row[1] for row in reader}


def write_imagefolder(source: Path, captions: dict[str, str], dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    with (dest / "metadata.jsonl").open("w") as out:
        for name, caption in captions.items():
            shutil.copy2(source / name, dest / name)
            out.write(json.dumps({"file_name": name, "text": caption}) + "\n")
    return dest


def write_txt_captions(source: Path, captions: dict[str, str], dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name, caption in captions.items():
        shutil.copy2(source / name, dest / name)
        (dest / name).with_suffix(".txt").write_text(caption)
    return dest
