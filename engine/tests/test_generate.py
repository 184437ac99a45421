"""`generate` on a tiny SD 1.x checkpoint with a LoRA on both the UNet and the text encoder: the text-encoder and
UNet weights act separately, weight 0 on both is the base model bit for bit, and the files load once."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from lora_scripts_engine import generate as engine_generate
from lora_scripts_engine import protocol
from lora_scripts_engine.device import pick_compute
from lora_scripts_engine.lora_files import save_lora
from lora_scripts_engine.models import load_base_model
from lora_scripts_engine.request import GenerateBatch, GenerateOptions, LoraWeights, parse_fields
from lora_scripts_engine.tiny_models import write_checkpoint
from peft import LoraConfig
from PIL import Image

EULER = {"class_name": "EulerDiscreteScheduler", "config": {}}
COMPUTE = pick_compute("auto", None)
# What a plain prompt's batch holds besides its prompt (src/generate/plan.ts sends every key).
PLAIN = dict(
    negative_prompt="",
    prompt_segments=None,
    negative_segments=None,
    seeds=[5],
    files=["image.png"],
    steps=3,
    cfg_scale=5.0,
    width=64,
    height=64,
    scheduler=EULER,
    loras=[],
)


def batch(**fields) -> GenerateBatch:
    return parse_fields(GenerateBatch, {**PLAIN, **fields}, "batch")


def generate(checkpoint: str, out_dir, batches: list[dict]) -> None:
    # No facts: these files carry their architecture metadata, which the loader reads the family from.
    options = {
        "base_model": checkpoint,
        "base_model_facts": {"family": None, "prediction_type": None},
        "out_dir": str(out_dir),
        "batches": [{**PLAIN, **b} for b in batches],
    }
    engine_generate.generate(parse_fields(GenerateOptions, options, "options"), COMPUTE)


@pytest.fixture(scope="module")
def base_and_lora(tmp_path_factory):
    folder = tmp_path_factory.mktemp("generate")
    checkpoint = str(write_checkpoint("sd1", str(folder / "tiny.safetensors"), seed=3))
    base = load_base_model(checkpoint)
    # Random A and B (peft starts B at zero), so the LoRA changes both components from the first step.
    lora = dict(r=4, lora_alpha=4, init_lora_weights=False)
    base.unet.add_adapter(LoraConfig(target_modules=["to_q", "to_k", "to_v", "to_out.0"], **lora))
    base.text_encoders[0].add_adapter(LoraConfig(target_modules=["q_proj", "k_proj", "v_proj", "out_proj"], **lora))
    both = save_lora(base, str(folder / "both.safetensors"), "fp32", train_text_encoder=True)
    unet_only = save_lora(base, str(folder / "unet.safetensors"), "fp32", train_text_encoder=False)
    return checkpoint, both, unet_only, folder


def render(
    checkpoint: str, lora: str, folder, weights: list[tuple[float, float] | None]
) -> tuple[list[np.ndarray], list[dict]]:
    batches = [
        dict(
            prompt="a canal town",
            negative_prompt="",
            seeds=[5],
            files=[f"w{i}.png"],
            steps=3,
            cfg_scale=5.0,
            width=64,
            height=64,
            scheduler=EULER,
            loras=[] if w is None else [dict(path=lora, name="both", te_weight=w[0], unet_weight=w[1])],
        )
        for i, w in enumerate(weights)
    ]
    channel = io.StringIO()
    protocol.set_channel(channel)
    try:
        generate(checkpoint, folder / "out", batches)
    finally:
        protocol.set_channel(__import__("sys").stdout)
    events = [json.loads(line) for line in channel.getvalue().splitlines()]
    return [np.asarray(Image.open(folder / "out" / b["files"][0])) for b in batches], events


def test_text_encoder_and_unet_weights_act_separately(base_and_lora):
    checkpoint, lora, _, folder = base_and_lora
    none, zero, te_only, unet_only, both, none_again = render(
        checkpoint, lora, folder, [None, (0, 0), (1, 0), (0, 1), (1, 1), None]
    )[0]
    assert np.array_equal(zero, none)
    assert np.array_equal(none_again, none)
    for changed in (te_only, unet_only, both):
        assert not np.array_equal(changed, none)
    assert not np.array_equal(te_only, unet_only)
    assert not np.array_equal(both, te_only) and not np.array_equal(both, unet_only)


def test_the_text_encoder_weight_leaves_the_unet_alone(base_and_lora):
    checkpoint, _, unet_lora, folder = base_and_lora
    none, te_weight_only, unet_weight_only = render(checkpoint, unet_lora, folder, [None, (1, 0), (0, 1)])[0]
    assert np.array_equal(te_weight_only, none)
    assert not np.array_equal(unet_weight_only, none)


def test_the_base_model_and_each_lora_load_once(base_and_lora):
    checkpoint, lora, _, folder = base_and_lora
    _, events = render(checkpoint, lora, folder, [(1, 1), None, (0.5, 1)])
    stages = [(e["name"], e["message"]) for e in events if e["type"] == "stage"]
    assert stages == [("load_base_model", checkpoint), ("load_lora", lora)]
    assert [e["type"] for e in events if e["type"] != "stage"] == ["sample", "sample", "sample", "done"]


@pytest.mark.parametrize("cfg_scale", [5.0, 1.0])  # 1.0: no CFG, so a single image runs the UNet on one picture
def test_a_batch_image_is_the_picture_its_seed_makes_alone_to_the_last_bit(base_and_lora, cfg_scale):
    # Compared as floats, before the 8-bit rounding that hides most last-bit differences: a batched pipeline call
    # gives other bits here (MKL's few-row GEMMs, torch's one-picture convolutions), which flipped a pixel at times.
    import torch

    checkpoint, lora, _, _ = base_and_lora
    _, pipe = engine_generate.load_pipeline(checkpoint, COMPUTE)
    engine_generate.activate_loras(pipe, [LoraWeights(path=lora, name="both", te_weight=1, unet_weight=0.7)], {})
    inputs = engine_generate.prompt_inputs(pipe, batch(prompt="a canal town"))
    settings = dict(num_inference_steps=3, guidance_scale=cfg_scale, width=64, height=64, output_type="np")
    seeds = [5, 6, 7]
    batched = engine_generate.render_batch(
        pipe, inputs, [torch.Generator("cpu").manual_seed(s) for s in seeds], "cpu", **settings
    )
    for seed, image in zip(seeds, batched):
        alone = engine_generate.render_batch(
            pipe, inputs, [torch.Generator("cpu").manual_seed(seed)], "cpu", **settings
        )[0]
        assert np.array_equal(image, alone), seed
    assert not np.array_equal(batched[0], batched[1])


def encode(pipe, segments: list):
    return engine_generate.embed_chunks(pipe, engine_generate.token_chunks(pipe.tokenizer, segments), 1)


def test_weighted_embeddings_at_weight_1_equal_the_pipelines_own_encoding(base_and_lora):
    import torch

    checkpoint, _, _, _ = base_and_lora
    _, pipe = engine_generate.load_pipeline(checkpoint, COMPUTE)
    with torch.no_grad():
        ours, _ = encode(pipe, [["a misty ", 1.0], ["canal town", 1.0]])
        theirs, _ = pipe.encode_prompt("a misty canal town", "cpu", 1, False)
        emphasised, _ = encode(pipe, [["a misty ", 1.0], ["canal town", 1.5]])
    assert torch.allclose(ours, theirs, atol=1e-6)
    # Emphasis changes the emphasised tokens' embeddings, keeps the overall mean (WebUI's rescaling).
    assert not torch.allclose(emphasised, theirs, atol=1e-3)
    assert torch.allclose(emphasised.mean(), theirs.mean(), atol=1e-6)


def test_emphasis_changes_the_image_and_weight_1_segments_do_not(base_and_lora):
    checkpoint, _, _, folder = base_and_lora
    plain = dict(
        prompt="a canal town",
        negative_prompt="",
        seeds=[5],
        files=["plain.png"],
        steps=3,
        cfg_scale=5.0,
        width=64,
        height=64,
        scheduler=EULER,
        loras=[],
    )
    same = {
        **plain,
        "files": ["same.png"],
        "prompt_segments": [["a canal town", 1.0]],
        "negative_segments": [["", 1.0]],
    }
    weighted = {
        **plain,
        "files": ["weighted.png"],
        "prompt_segments": [["a ", 1.0], ["canal", 1.6], [" town", 1.0]],
        "negative_segments": [["", 1.0]],
    }
    generate(checkpoint, folder / "emphasis", [plain, same, weighted])
    image = lambda name: np.asarray(Image.open(folder / "emphasis" / name)).astype(int)
    assert np.abs(image("same.png") - image("plain.png")).max() <= 1
    assert np.abs(image("weighted.png") - image("plain.png")).mean() > 1


def test_prompts_past_75_tokens_are_encoded_in_chunks_not_cut(base_and_lora):
    import torch

    checkpoint, _, _, _ = base_and_lora
    _, pipe = engine_generate.load_pipeline(checkpoint, COMPUTE)
    words = " ".join(f"house{i}" for i in range(60))  # well over 75 tokens
    inputs = engine_generate.prompt_inputs(pipe, batch(prompt=words + ", red lanterns", negative_prompt="blurry"))
    cut = engine_generate.prompt_inputs(pipe, batch(prompt=words, negative_prompt="blurry"))
    length = inputs["prompt_embeds"].shape[1]
    assert length == inputs["negative_prompt_embeds"].shape[1] and length % 77 == 0 and length > 77
    # The words after the first 75 tokens reach the encoder: the last chunk differs when they differ.
    assert not torch.allclose(inputs["prompt_embeds"][:, -77:], cut["prompt_embeds"][:, -77:])
    assert torch.allclose(inputs["prompt_embeds"][:, :77], cut["prompt_embeds"][:, :77])
    # Short plain prompts stay on the pipeline's own path.
    assert engine_generate.prompt_inputs(pipe, batch(prompt="a canal town")) == {
        "prompt": "a canal town",
        "negative_prompt": "",
    }


def test_sdxl_weighted_encoding_at_weight_1_equals_the_pipelines_and_emphasis_renders(tmp_path):
    import torch

    checkpoint = str(write_checkpoint("sdxl", str(tmp_path / "tiny-xl.safetensors"), seed=4))
    _, pipe = engine_generate.load_pipeline(checkpoint, COMPUTE)
    fields = dict(
        prompt="a misty canal town",
        negative_prompt="blurry",
        prompt_segments=[["a misty canal town", 1.0]],
        negative_segments=[["blurry", 1.0]],
    )
    ours = engine_generate.prompt_inputs(pipe, batch(**fields))
    with torch.no_grad():
        theirs = pipe.encode_prompt(
            "a misty canal town",
            device="cpu",
            num_images_per_prompt=1,
            do_classifier_free_guidance=True,
            negative_prompt="blurry",
        )
    for key, expected in zip(
        ["prompt_embeds", "negative_prompt_embeds", "pooled_prompt_embeds", "negative_pooled_prompt_embeds"], theirs
    ):
        assert torch.allclose(ours[key], expected, atol=1e-5), key
    empty_negative = engine_generate.prompt_inputs(
        pipe, batch(**{**fields, "negative_prompt": "", "negative_segments": [["", 1.0]]})
    )
    assert not empty_negative["negative_prompt_embeds"].any()  # SDXL's zeros for an empty negative prompt
    emphasis = dict(
        negative_prompt="", seeds=[5], steps=2, cfg_scale=5.0, width=64, height=64, scheduler=EULER, loras=[]
    )
    plain = {**emphasis, "prompt": "a canal town", "files": ["plain.png"]}
    weighted = {
        **emphasis,
        "prompt": "a canal town",
        "files": ["weighted.png"],
        "prompt_segments": [["a ", 1.0], ["canal", 1.6], [" town", 1.0]],
        "negative_segments": [["", 1.0]],
    }
    generate(checkpoint, tmp_path / "out", [plain, weighted])
    image = lambda name: np.asarray(Image.open(tmp_path / "out" / name)).astype(int)
    assert np.abs(image("weighted.png") - image("plain.png")).mean() > 0.5
