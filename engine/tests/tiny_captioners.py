"""Tiny random-weight captioning models in the real on-disk layouts, for the engine and CLI tests.

BLIP and Florence-2 are built with the real transformers classes and `save_pretrained`; the WD14 tagger is an
ONNX graph built with the `onnx` helper API plus a `selected_tags.csv` whose tags fire by construction.
The vitest suite calls this file as a script:

    python engine/tests/tiny_captioners.py OUT_DIR blip florence2 wd14    # → OUT_DIR/blip, OUT_DIR/florence2, …
"""

from __future__ import annotations

import sys
from pathlib import Path

WORDS = "stone bridge canal river house tree sky boat water roof garden willow lantern street snow".split()

# The tagger's tags and the logit each one gets, whatever the image (its weights ignore the pixels except for
# `dark_background`, which fires on dark images only). Probabilities: sigmoid(logit).
WD14_TAGS = [
    # (tag_id, name, category, count, logit)
    (9999999, "general", 9, 100, 4.0),  # rating: always dropped
    (1, "outdoors", 0, 90, 3.0),  # 0.95
    (2, "stone_bridge", 0, 80, 1.0),  # 0.73
    (3, "^_^", 0, 70, 0.0),  # 0.50: above the default 0.35, below --threshold 0.6
    (4, "cloudy_sky", 0, 60, -3.0),  # 0.05: never
    (5, "hu_tao_(genshin_impact)", 4, 50, 2.5),  # character, 0.92: above 0.85
    (6, "someone_else", 4, 40, 1.0),  # character, 0.73: below 0.85
]
DARK_TAG = (7, "dark_background", 0, 30)


def build_blip(folder: Path, seed: int = 0) -> Path:
    import torch
    from transformers import (
        BertTokenizer,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessorPil,
        BlipProcessor,
    )

    folder.mkdir(parents=True, exist_ok=True)
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]", *WORDS]
    (folder / "vocab.txt").write_text("\n".join(tokens) + "\n")
    tokenizer = BertTokenizer(str(folder / "vocab.txt"), bos_token="[DEC]")
    processor = BlipProcessor(
        image_processor=BlipImageProcessorPil(size={"height": 32, "width": 32}), tokenizer=tokenizer
    )
    torch.manual_seed(seed)
    text = dict(
        vocab_size=len(tokens),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=128,
        encoder_hidden_size=32,
        bos_token_id=tokenizer.bos_token_id,
        sep_token_id=tokenizer.sep_token_id,
        eos_token_id=tokenizer.sep_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    vision = dict(
        hidden_size=32,
        image_size=32,
        patch_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        initializer_range=0.5,
    )  # large enough that different images give different captions
    model = BlipForConditionalGeneration(BlipConfig(text_config=text, vision_config=vision, projection_dim=32))
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def build_florence2(folder: Path, seed: int = 0) -> Path:
    import torch
    from transformers import (
        BartTokenizer,
        CLIPImageProcessorPil,
        Florence2Config,
        Florence2ForConditionalGeneration,
        Florence2Processor,
    )

    folder.mkdir(parents=True, exist_ok=True)
    # Byte-level BPE: printable ASCII plus "Ġ" (a space) encodes the task prompts; whole words, which need no
    # merges to be decoded, make the random output readable.
    characters = [chr(c) for c in range(ord("!"), ord("~") + 1)] + ["Ġ"]
    tokens = ["<s>", "<pad>", "</s>", "<unk>", "<mask>", *characters, *(f"Ġ{word}" for word in WORDS)]
    tokenizer = BartTokenizer(
        vocab={t: i for i, t in enumerate(tokens)}, merges=[], extra_special_tokens={"image_token": "<image>"}
    )
    # 32 px through strides 4 and 2: 4×4 patches + 1 temporal token = 17 image tokens.
    image_processor = CLIPImageProcessorPil(
        size={"height": 32, "width": 32},
        crop_size={"height": 32, "width": 32},
        do_center_crop=False,
        image_seq_length=17,
    )
    processor = Florence2Processor(image_processor=image_processor, tokenizer=tokenizer)
    torch.manual_seed(seed)
    text = dict(
        model_type="bart",
        vocab_size=len(tokenizer),
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=37,
        decoder_ffn_dim=37,
        max_position_embeddings=128,
        bos_token_id=0,
        pad_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=2,
        forced_eos_token_id=2,
    )
    vision = dict(
        depths=[1, 1],
        patch_size=[7, 3],
        patch_stride=[4, 2],
        patch_padding=[3, 1],
        patch_prenorm=[False, True],
        embed_dim=[16, 32],
        num_heads=[2, 2],
        num_groups=[2, 2],
        window_size=4,
        projection_dim=32,
        max_position_embeddings=8,
    )
    model = Florence2ForConditionalGeneration(
        Florence2Config(text_config=text, vision_config=vision, image_token_id=tokenizer.image_token_id)
    )
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def build_wd14(folder: Path, size: int = 32) -> Path:
    """logits = bias + w·(mean BGR / 255): only `dark_background` looks at the pixels (fires on near-black images)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    folder.mkdir(parents=True, exist_ok=True)
    rows = [*(t[:4] for t in WD14_TAGS), DARK_TAG]
    bias = np.array([t[4] for t in WD14_TAGS] + [2.0], dtype=np.float32)
    weight = np.zeros((3, len(rows)), dtype=np.float32)
    weight[:, -1] = -8.0  # black → logit 2 (0.88); above a mean of ~11% grey it stays below 0.35
    nodes = [
        helper.make_node("ReduceMean", ["input", "axes"], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "scale"], ["unit"]),
        helper.make_node("MatMul", ["unit", "weight"], ["logits"]),
        helper.make_node("Add", ["logits", "bias"], ["raw"]),
        helper.make_node("Sigmoid", ["raw"], ["output"]),
    ]
    initializers = [
        numpy_helper.from_array(np.array([1, 2], dtype=np.int64), "axes"),
        numpy_helper.from_array(np.array(1 / 255, dtype=np.float32), "scale"),
        numpy_helper.from_array(weight, "weight"),
        numpy_helper.from_array(bias, "bias"),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_wd14",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch_size", size, size, 3])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch_size", len(rows)])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 10  # what onnxruntime 1.31 reads
    onnx.checker.check_model(model)
    onnx.save(model, str(folder / "model.onnx"))
    lines = ["tag_id,name,category,count", *(",".join(map(str, row)) for row in rows)]
    (folder / "selected_tags.csv").write_text("\n".join(lines) + "\n")
    return folder


BUILDERS = {"blip": build_blip, "florence2": build_florence2, "wd14": build_wd14}

if __name__ == "__main__":
    out = Path(sys.argv[1])
    for kind in sys.argv[2:]:
        print(BUILDERS[kind](out / kind))
