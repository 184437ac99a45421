"""Flux: a tiny dev model trains a few steps through train_flux, its LoRA reloads through diffusers' FluxPipeline and
changes the picture; the BFL single-file layout round-trips; the objective's pieces do what flux_train.py says."""

import json
import math
import subprocess
from pathlib import Path

import pytest
import torch
from lora_scripts_engine import protocol
from lora_scripts_engine.device import Compute
from lora_scripts_engine.flux_model import (
    TINY_TRANSFORMER,
    bfl_layout,
    build_tiny_flux,
    load_flux_base,
    load_transformer_file,
    save_transformer_file,
    write_tiny_flux_folder,
)
from lora_scripts_engine.flux_train import (
    FluxSettings,
    flux_target_names,
    generate_flux,
    image_shift,
    sample_sigmas,
    train_flux,
)
from lora_scripts_engine.protocol import EngineFailure
from lora_scripts_engine.request import parse_request
from PIL import Image, ImageDraw
from safetensors import safe_open

REPO = Path(__file__).resolve().parents[2]
CPU = Compute("cpu", torch.float32, "test")


def write_dataset(folder: Path, count: int = 4, size: int = 64) -> Path:
    """Red discs on white ("sks dog") and blue bars on black ("red cat"): a manifest as TypeScript writes it."""
    folder.mkdir(parents=True)
    rows = []
    for i in range(count):
        image = Image.new("RGB", (size, size), "white" if i % 2 == 0 else "black")
        draw = ImageDraw.Draw(image)
        if i % 2 == 0:
            draw.ellipse((8 + i, 8, 40 + i, 40), fill=(220, 30, 30))
        else:
            draw.rectangle((i, 24, 48 + i, 40), fill=(30, 60, 220))
        image.save(folder / f"img_{i}.png")
        rows.append(
            {
                "image": str(folder / f"img_{i}.png"),
                "caption": "a photo of a sks dog" if i % 2 == 0 else "a red cat",
                "repeats": 1,
            }
        )
    manifest = folder / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest


def train_request(base_model: Path, manifest: Path, out: Path, **config):
    raw = json.loads((REPO / "tests/fixtures/protocol/requests/train.json").read_text())
    settings = dict(
        base_model=str(base_model),
        train_data_dir=str(manifest.parent),
        metadata_path=None,
        output_dir=str(out),
        resolution=64,
        batch_size=2,
        max_train_steps=3,
        learning_rate=1e-2,
        lora_rank=4,
        lora_alpha=8,  # scale 2: a converter that drops alpha is caught
        target_modules=["attention+ff"],
        save_steps=2,
        save_precision="fp32",
        cache_dir=None,
        mixed_precision="no",
    )
    raw["config"].update({**settings, **config})
    raw["manifest"] = str(manifest)
    return parse_request(json.dumps(raw))


@pytest.fixture(scope="module")
def flux_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("flux")
    folder = write_tiny_flux_folder(root / "tiny-flux-dev", "dev", seed=3)
    manifest = write_dataset(root / "data")
    events = []
    original = protocol.emit
    # train_flux imported emit by name: collect the events it writes.
    import lora_scripts_engine.flux_train as flux_train

    flux_train.emit = lambda kind, **fields: events.append({"type": kind, **fields})
    try:
        train_flux(train_request(folder, manifest, root / "out"), CPU, FluxSettings(max_sequence_length=16))
    finally:
        flux_train.emit = original
    return {"folder": folder, "out": root / "out", "events": events}


def test_train_emits_the_sd_event_sequence_with_finite_losses(flux_run):
    events = flux_run["events"]
    kinds = [e["type"] for e in events]
    assert kinds == [
        "stage",
        "stage",
        "started",
        "progress",
        "progress",
        "checkpoint",
        "progress",
        "checkpoint",
        "done",
    ]
    assert events[1]["name"] == "text_encoders"  # fixed captions: encoded once, before the transformer is placed
    started = events[2]
    assert (started["family"], started["total_steps"], started["resolution"]) == ("flux", 3, 64)
    # attention+ff on 2 double blocks (8 attention + 4 MLP) and 2 single blocks (q, k, v, proj_mlp, proj_out).
    assert started["layers"] == {"unet": 2 * 12 + 2 * 5, "text_encoder": 0}
    losses = [e["loss"] for e in events if e["type"] == "progress"]
    assert all(math.isfinite(loss) and loss > 0 for loss in losses)
    assert [e["is_final"] for e in events if e["type"] == "checkpoint"] == [False, True]


def test_saved_file_has_transformer_keys_and_the_lora_config(flux_run):
    path = flux_run["out"] / "pytorch_lora_weights.safetensors"
    with safe_open(str(path), framework="pt") as f:
        keys, metadata = list(f.keys()), f.metadata()
    assert len(keys) == 2 * 34 and all(k.startswith("transformer.") for k in keys)
    assert "transformer.transformer_blocks.0.attn.to_q.lora_A.weight" in keys
    assert "transformer.single_transformer_blocks.1.proj_out.lora_B.weight" in keys
    config = json.loads(metadata["lora_adapter_metadata"])
    assert (config["transformer.r"], config["transformer.lora_alpha"]) == (4, 8)  # diffusers prefixes each key


def test_lora_reloads_through_flux_pipeline_and_changes_the_picture(flux_run):
    base = load_flux_base(str(flux_run["folder"]))
    render = lambda loras: generate_flux(
        base,
        "a photo of a sks dog",
        loras=loras,
        steps=2,
        width=64,
        height=64,
        max_sequence_length=16,
        output_type="pt",
    )
    plain = render([])
    lora = flux_run["out"] / "pytorch_lora_weights.safetensors"
    with_lora = render([(str(lora), 1.0)])
    again = render([])
    assert plain.shape == (3, 64, 64)
    assert (with_lora - plain).abs().max() > 1e-3  # lr 1e-2 for 3 steps moves the tiny model visibly
    assert torch.equal(plain, again)  # the adapter is removed after the call


def test_every_trained_layer_is_loaded_by_diffusers(flux_run):
    base = load_flux_base(str(flux_run["folder"]))
    base.pipeline.load_lora_weights(str(flux_run["out"] / "pytorch_lora_weights.safetensors"), adapter_name="t")
    loaded = [n for n, _ in base.transformer.named_modules() if n.endswith("lora_A.t")]
    assert len(loaded) == 34


def test_bfl_single_file_round_trips_every_weight_and_output(tmp_path):
    built = build_tiny_flux("dev", seed=1).transformer
    path = save_transformer_file(built, tmp_path / "flux1-tiny.safetensors")
    with safe_open(str(path), framework="pt") as f:
        keys = set(f.keys())
    assert {
        "double_blocks.0.img_attn.qkv.weight",
        "single_blocks.1.linear1.weight",
        "guidance_in.in_layer.weight",
    } <= keys
    loaded = load_transformer_file(str(path))
    assert loaded.config.num_layers == TINY_TRANSFORMER["num_layers"]
    assert tuple(loaded.config.axes_dims_rope) == tuple(TINY_TRANSFORMER["axes_dims_rope"])
    for name, tensor in built.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name]), name
    generator = torch.Generator().manual_seed(0)
    inputs = dict(
        hidden_states=torch.randn(1, 16, 64, generator=generator),
        encoder_hidden_states=torch.randn(1, 8, 32, generator=generator),
        pooled_projections=torch.randn(1, 32, generator=generator),
        timestep=torch.tensor([0.5]),
        guidance=torch.tensor([3.5]),
        img_ids=torch.zeros(16, 3),
        txt_ids=torch.zeros(8, 3),
        return_dict=False,
    )
    with torch.no_grad():
        assert torch.equal(built(**inputs)[0], loaded(**inputs)[0])


def test_single_file_base_takes_the_rest_from_a_components_folder(tmp_path):
    folder = write_tiny_flux_folder(tmp_path / "tiny", "schnell", seed=2)
    path = save_transformer_file(build_tiny_flux("schnell", seed=5).transformer, tmp_path / "schnell.safetensors")
    base = load_flux_base(str(path), components=str(folder))
    assert base.variant == "schnell" and not base.transformer.config.guidance_embeds
    with pytest.raises(EngineFailure) as failure:
        load_flux_base(str(path))
    assert failure.value.code == "flux_components_missing"


def test_comfyui_full_checkpoint_prefix_is_read(tmp_path, copy_checkpoint):
    path = save_transformer_file(build_tiny_flux("dev").transformer, tmp_path / "bfl.safetensors")
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
    from safetensors.torch import load_file, save_file

    prefixed = {f"model.diffusion_model.{k}": v for k, v in load_file(str(path)).items()}
    save_file(prefixed, str(tmp_path / "comfy.safetensors"), metadata=metadata)
    assert load_transformer_file(str(tmp_path / "comfy.safetensors")).config.guidance_embeds


def test_layout_covers_the_full_size_transformer_on_meta():
    from diffusers import FluxTransformer2DModel
    from lora_scripts_engine.flux_model import FULL_TRANSFORMER

    with torch.device("meta"):
        full = FluxTransformer2DModel(**FULL_TRANSFORMER, guidance_embeds=True)
    names = {n for n in full.state_dict() if not n.startswith("pos_embed")}
    covered = {d for _, parts, _ in bfl_layout(19, 38, True) for d in parts}
    assert names == covered and len(bfl_layout(19, 38, True)) == 780


def test_targets_presets_and_suffixes():
    transformer = build_tiny_flux("dev").transformer
    assert len(flux_target_names(transformer, ["attention"])) == 2 * 8 + 2 * 3
    assert len(flux_target_names(transformer, ["all"])) == 2 * 14 + 2 * 6
    assert flux_target_names(transformer, ["proj_mlp"]) == [
        "single_transformer_blocks.0.proj_mlp",
        "single_transformer_blocks.1.proj_mlp",
    ]
    with pytest.raises(EngineFailure):
        flux_target_names(transformer, ["to_nothing"])


def test_sigmas_are_logit_normal_and_shifted_toward_noise():
    torch.manual_seed(0)
    plain = sample_sigmas(20000, FluxSettings(), 1.0, "cpu")
    shifted = sample_sigmas(20000, FluxSettings(), 3.0, "cpu")
    assert abs(float(plain.median()) - 0.5) < 0.02  # sigmoid of N(0, 1): median 0.5
    assert float(shifted.median()) == pytest.approx(0.75, abs=0.02)  # 3·0.5 / (1 + 2·0.5)
    assert 0 < float(plain.min()) and float(plain.max()) < 1
    config = {"base_image_seq_len": 256, "max_image_seq_len": 4096, "base_shift": 0.5, "max_shift": 1.15}
    assert image_shift(256, config) == pytest.approx(math.exp(0.5))
    assert image_shift(4096, config) == pytest.approx(math.exp(1.15))  # 1024 px: 3.158, kohya's recommended shift


def to_kohya(peft_path: Path, kohya_path: Path) -> Path:
    """src/lora/flux-keys.ts's fluxPeftToKohya on a real file, run with tsx."""
    lora = (REPO / "src" / "lora").as_uri()
    script = kohya_path.with_suffix(".mts")
    script.write_text(
        f"import {{ readFileSync, writeFileSync }} from 'node:fs';\n"
        f"import {{ parseSafetensors, serializeSafetensors }} from '{lora}/safetensors.ts';\n"
        f"import {{ fluxPeftToKohya }} from '{lora}/flux-keys.ts';\n"
        f"const file = parseSafetensors(readFileSync({json.dumps(str(peft_path))}), 'in');\n"
        f"writeFileSync({json.dumps(str(kohya_path))}, serializeSafetensors({{ metadata: {{}}, "
        f"tensors: fluxPeftToKohya(file, {{ fileName: 'in' }}).tensors }}));\n"
    )
    subprocess.run([str(REPO / "node_modules/.bin/tsx"), str(script)], check=True, cwd=REPO, timeout=120)
    return kohya_path


def test_kohya_file_merged_into_the_bfl_weights_equals_the_diffusers_lora(flux_run, tmp_path):
    """The kohya file (fused qkv / linear1, BFL names) merged as W + (alpha/rank)·up·down into the transformer's BFL
    weights gives the same transformer as diffusers' own loading of the diffusers file."""
    from lora_scripts_engine.flux_model import config_from_bfl, from_bfl, to_bfl
    from safetensors.torch import load_file

    lora = flux_run["out"] / "pytorch_lora_weights.safetensors"
    kohya = load_file(str(to_kohya(lora, tmp_path / "kohya.safetensors")))
    modules = {k[: -len(".alpha")] for k in kohya if k.endswith(".alpha")}
    assert len(modules) == 2 * 8 + 2 * 2  # double: 2 qkv, 2 proj, 4 mlp; single: linear1, linear2
    assert "lora_unet_double_blocks_1_txt_attn_qkv" in modules and "lora_unet_single_blocks_0_linear1" in modules

    base = load_flux_base(str(flux_run["folder"]))
    bfl = to_bfl(base.transformer)
    for module in modules:
        down, up = kohya[f"{module}.lora_down.weight"], kohya[f"{module}.lora_up.weight"]
        target = module[len("lora_unet_") :]
        name = next(k for k in bfl if k.replace(".", "_") == f"{target}_weight")
        bfl[name] = bfl[name] + float(kohya[f"{module}.alpha"]) / down.shape[0] * up @ down
    merged = type(base.transformer).from_config(config_from_bfl(bfl, {"flux_axes_dims_rope": "4,6,6"}, "x"))
    missing, unexpected = merged.load_state_dict(from_bfl(bfl, dict(merged.config)), strict=False)
    assert not unexpected and all(k.startswith("pos_embed") for k in missing)  # the rotary embedding has no weights

    base.pipeline.load_lora_weights(str(lora), adapter_name="t")
    generator = torch.Generator().manual_seed(0)
    inputs = dict(
        hidden_states=torch.randn(1, 16, 64, generator=generator),
        encoder_hidden_states=torch.randn(1, 8, 32, generator=generator),
        pooled_projections=torch.randn(1, 32, generator=generator),
        timestep=torch.tensor([0.5]),
        guidance=torch.tensor([1.0]),
        img_ids=torch.zeros(16, 3),
        txt_ids=torch.zeros(8, 3),
        return_dict=False,
    )
    with torch.no_grad():
        with_lora = base.transformer(**inputs)[0]
        base.pipeline.disable_lora()
        plain = base.transformer(**inputs)[0]
        assert torch.allclose(merged.eval()(**inputs)[0], with_lora, atol=1e-5, rtol=1e-4)
    assert (with_lora - plain).abs().max() > 1e-3


def test_schnell_single_file_base_trains_without_guidance(tmp_path):
    """A BFL transformer file + a components folder, schnell (no guidance embedding): the same loop, one step."""
    folder = write_tiny_flux_folder(tmp_path / "components", "schnell", seed=4)
    path = save_transformer_file(build_tiny_flux("schnell", seed=6).transformer, tmp_path / "flux1-schnell.safetensors")
    manifest = write_dataset(tmp_path / "data", count=2)
    request = train_request(path, manifest, tmp_path / "out", max_train_steps=1, save_steps=0)
    events = []
    import lora_scripts_engine.flux_train as flux_train

    original = flux_train.emit
    flux_train.emit = lambda kind, **fields: events.append({"type": kind, **fields})
    try:
        train_flux(request, CPU, FluxSettings(max_sequence_length=16, flux_components=str(folder)))
    finally:
        flux_train.emit = original
    assert [e["type"] for e in events][-2:] == ["checkpoint", "done"]
    assert math.isfinite(next(e["loss"] for e in events if e["type"] == "progress"))
    with safe_open(str(tmp_path / "out" / "pytorch_lora_weights.safetensors"), framework="pt") as f:
        assert len(list(f.keys())) == 2 * 34


def to_diffusers(kohya_path: Path, peft_path: Path) -> Path:
    """src/lora/flux-keys.ts's fluxKohyaToPeft on a real file, run with tsx."""
    lora = (REPO / "src" / "lora").as_uri()
    script = peft_path.with_suffix(".mts")
    script.write_text(
        f"import {{ readFileSync, writeFileSync }} from 'node:fs';\n"
        f"import {{ parseSafetensors, serializeSafetensors }} from '{lora}/safetensors.ts';\n"
        f"import {{ fluxKohyaToPeft }} from '{lora}/flux-keys.ts';\n"
        f"const file = parseSafetensors(readFileSync({json.dumps(str(kohya_path))}), 'in');\n"
        f"writeFileSync({json.dumps(str(peft_path))}, serializeSafetensors(fluxKohyaToPeft(file, {{ fileName: 'in' }})));\n"
    )
    subprocess.run([str(REPO / "node_modules/.bin/tsx"), str(script)], check=True, cwd=REPO, timeout=120)
    return peft_path


def test_kohya_file_converted_back_loads_in_diffusers_with_the_same_effect(flux_run, tmp_path):
    """diffusers → kohya → diffusers (both by the TS code): FluxPipeline.load_lora_weights gives the same transformer."""
    lora = flux_run["out"] / "pytorch_lora_weights.safetensors"
    back = to_diffusers(to_kohya(lora, tmp_path / "kohya.safetensors"), tmp_path / "back.safetensors")
    base = load_flux_base(str(flux_run["folder"]))
    generator = torch.Generator().manual_seed(0)
    inputs = dict(
        hidden_states=torch.randn(1, 16, 64, generator=generator),
        encoder_hidden_states=torch.randn(1, 8, 32, generator=generator),
        pooled_projections=torch.randn(1, 32, generator=generator),
        timestep=torch.tensor([0.5]),
        guidance=torch.tensor([1.0]),
        img_ids=torch.zeros(16, 3),
        txt_ids=torch.zeros(8, 3),
        return_dict=False,
    )
    outputs = {}
    for name, path in (("original", lora), ("round_trip", back)):
        base.pipeline.load_lora_weights(str(path), adapter_name=name)
        base.pipeline.set_adapters([name])
        with torch.no_grad():
            outputs[name] = base.transformer(**inputs)[0]
    assert torch.allclose(outputs["original"], outputs["round_trip"], atol=1e-6)
    with safe_open(str(back), framework="pt") as f:
        assert len(list(f.keys())) == 2 * 34  # every split part back, at its own rank


def test_a_non_finite_loss_stops_the_run_and_keeps_the_last_saved_lora_and_state(tmp_path):
    folder = write_tiny_flux_folder(tmp_path / "tiny-flux-dev", "dev", seed=3)
    manifest = write_dataset(tmp_path / "data", count=2)
    out = tmp_path / "out"
    request = train_request(folder, manifest, out, max_train_steps=3, save_steps=1, batch_size=1)
    request.options.test_nan_at_step = 2
    with pytest.raises(EngineFailure) as failure:
        train_flux(request, CPU, FluxSettings(max_sequence_length=16))
    assert failure.value.code == "loss_not_finite" and failure.value.culprit == "learning_rate"
    assert "the loss became nan at step 2" in failure.value.message
    assert "the LoRA and state saved at step 1 are kept" in failure.value.message
    assert (out / "checkpoints" / "step-00000001" / "pytorch_lora_weights.safetensors").is_file()
    assert [p.name for p in (out / "states").iterdir()] == ["step-00000001"]
    assert not (out / "pytorch_lora_weights.safetensors").exists(), "no final LoRA from a diverged run"
