"""Derives the CLIP BPE tokenizer files shipped in model_configs/ from the open-clip-torch wheel.

Run once by a maintainer; the output is committed, so users never download a tokenizer (no
network at train time). The wheel's `bpe_simple_vocab_16e6.txt.gz` holds the same BPE as
`openai/clip-vit-large-patch14`'s vocab.json + merges.txt; the vocabulary is rebuilt the way
open_clip's `tokenizer.py` builds it (byte table, byte+</w>, merges, then the two specials).

    python engine/scripts/build_tokenizer.py --wheel open_clip_torch-3.3.0-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import gzip
import json
import zipfile
from pathlib import Path

ENGINE_DIR = Path(__file__).resolve().parents[1]
MODEL_CONFIGS_DIR = ENGINE_DIR / "lora_scripts_engine" / "model_configs"
VOCAB_MEMBER = "open_clip/bpe_simple_vocab_16e6.txt.gz"
# CLIP uses the first 49152 - 256 - 2 merges: 256 byte tokens, 256 byte+</w> tokens and 2
# specials fill the rest of the 49408-entry vocabulary (open_clip tokenizer.py).
MERGE_COUNT = 49152 - 256 - 2
START_TOKEN, END_TOKEN = "<|startoftext|>", "<|endoftext|>"


def read_merges(wheel: Path) -> list[str]:
    """The merge lines of the BPE file, without its header line."""
    with zipfile.ZipFile(wheel) as archive:
        text = gzip.decompress(archive.read(VOCAB_MEMBER)).decode("utf-8")
    return text.split("\n")[1 : MERGE_COUNT + 1]


def byte_characters() -> list[str]:
    """GPT-2 byte→unicode table in id order: printable bytes first, then the 68 remapped ones."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    remapped = [b for b in range(256) if b not in printable]
    return [chr(b) for b in printable] + [chr(256 + i) for i in range(len(remapped))]


def build_vocab(merges: list[str]) -> dict[str, int]:
    characters = byte_characters()
    tokens = characters + [c + "</w>" for c in characters]
    tokens += ["".join(merge.split(" ")) for merge in merges]
    tokens += [START_TOKEN, END_TOKEN]
    return {token: index for index, token in enumerate(tokens)}


def tokenizer_config(pad_token: str) -> dict:
    return {
        "tokenizer_class": "CLIPTokenizer",
        "bos_token": START_TOKEN,
        "eos_token": END_TOKEN,
        "unk_token": END_TOKEN,
        "pad_token": pad_token,
        # 77 is CLIP's context length; ComfyUI's copy says 8192, which diffusers would not truncate at.
        "model_max_length": 77,
        "do_lower_case": True,
        "add_prefix_space": False,
        "errors": "replace",
    }


def write_tokenizer(folder: Path, vocab: dict[str, int], merges: list[str], pad_token: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    config = tokenizer_config(pad_token)
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    special = {key: config[key] for key in ("bos_token", "eos_token", "unk_token", "pad_token")}
    (folder / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n", encoding="utf-8")


def check_tokenizer(folder: Path, expected_pad_id: int) -> None:
    """The self-test of docs/formats/offline-loading.md §4, run with transformers' own CLIPTokenizer."""
    from transformers import CLIPTokenizer

    tokenizer = CLIPTokenizer.from_pretrained(folder)
    ids = tokenizer("a photo of a cat", padding="max_length", max_length=77).input_ids
    expected = [49406, 320, 1125, 539, 320, 2368, 49407] + [expected_pad_id] * 70
    assert ids == expected, f"{folder.name}: got {ids[:10]}…"
    assert len(tokenizer) == 49408 and tokenizer.convert_tokens_to_ids(["!", "!</w>"]) == [0, 256]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, required=True, help="open_clip_torch-*.whl (a zip; never pip-install it)")
    parser.add_argument("--out", type=Path, default=MODEL_CONFIGS_DIR, help="folder that receives tokenizer-clip*/")
    args = parser.parse_args()
    merges = read_merges(args.wheel)
    assert len(merges) == MERGE_COUNT, f"expected {MERGE_COUNT} merges, got {len(merges)}"
    vocab = build_vocab(merges)
    assert len(vocab) == 49408, f"expected 49408 tokens, got {len(vocab)}"
    # SD 1.x and SDXL's first tokenizer pad with <|endoftext|>; OpenCLIP (SD 2.x, SDXL tokenizer_2) pads with id 0, "!".
    write_tokenizer(args.out / "tokenizer-clip", vocab, merges, pad_token=END_TOKEN)
    write_tokenizer(args.out / "tokenizer-clip-pad0", vocab, merges, pad_token="!")
    check_tokenizer(args.out / "tokenizer-clip", expected_pad_id=49407)
    check_tokenizer(args.out / "tokenizer-clip-pad0", expected_pad_id=0)
    print(f"wrote and checked {args.out / 'tokenizer-clip'} and {args.out / 'tokenizer-clip-pad0'}")


if __name__ == "__main__":
    main()
