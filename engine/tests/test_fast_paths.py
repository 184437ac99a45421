"""Fast paths change how fast a step runs, never what it computes; the precision choice says why."""

from __future__ import annotations

import torch
from lora_scripts_engine.device import pick_compute
from lora_scripts_engine.speed import LossReader, StepFlops
from lora_scripts_engine.tiny_models import write_checkpoint
from packed_layers import needs_bf16_packing
from safetensors.torch import load_file
from test_train_e2e import run_cli, tiny_config, write_dataset


def test_gradient_checkpointing_trains_the_same_lora_and_progress_shows_the_achieved_flops(tmp_path):
    model = write_checkpoint("sd1", str(tmp_path / "base.safetensors"), seed=0)
    data = write_dataset(tmp_path / "data", count=4)
    runs = {}
    for name, extra in (("plain", ""), ("checkpointed", "gradient_checkpointing: true\n")):
        result = run_cli(
            "train", "--config", str(tiny_config(tmp_path, model, data, name, "epochs: 2\n" + extra)), cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr
        assert ("gradient checkpointing" in result.stderr) == bool(extra)
        assert "cpu float32, threads" in result.stderr and "SDPA attention" in result.stderr
        assert (
            "channels_last" not in result.stderr
        )  # NCHW convolutions are faster in fp32 on a CPU (speed.conv_memory_format)
        assert "GFLOP/s" in result.stderr  # counted on the first step, shown from then on
        runs[name] = load_file(tmp_path / name / "pytorch_lora_weights.safetensors")
    assert runs["plain"].keys() == runs["checkpointed"].keys()
    for key, tensor in runs["plain"].items():
        torch.testing.assert_close(runs["checkpointed"][key], tensor, rtol=1e-4, atol=1e-6)


@needs_bf16_packing
def test_a_bf16_cpu_run_with_the_engine_kernels_trains_as_close_to_fp32_as_one_with_cpu_kernels_off(tmp_path):
    model = write_checkpoint("sd1", str(tmp_path / "base.safetensors"), seed=0)
    data = write_dataset(tmp_path / "data", count=4)
    runs = {}
    for name, extra in (
        ("fp32", "mixed_precision: no\n"),
        ("auto", "mixed_precision: bf16\n"),
        ("off", "mixed_precision: bf16\ncpu_kernels: off\n"),
    ):
        result = run_cli(
            "train", "--config", str(tiny_config(tmp_path, model, data, name, "epochs: 2\n" + extra)), cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr
        runs[name] = load_file(tmp_path / name / "pytorch_lora_weights.safetensors")
        # the fast-path line lists the kernels that run; `off` says so in its own line; the probe found nothing to warn of
        assert ("packed frozen convolutions, packed frozen linear layers" in result.stderr) == (name == "auto")
        assert ("CPU kernels off (`cpu_kernels: off`)" in result.stderr) == (name == "off")
        assert "CPU kernels off:" not in result.stderr
    assert runs["auto"].keys() == runs["off"].keys() == runs["fp32"].keys()

    def lora_b(run: dict) -> torch.Tensor:  # B starts at zero: what 4 steps of training wrote
        return torch.cat([tensor.float().flatten() for key, tensor in sorted(run.items()) if "lora_B" in key])

    reference = lora_b(runs["fp32"])
    error = {name: ((lora_b(runs[name]) - reference).norm() / reference.norm()).item() for name in ("auto", "off")}
    # measured: off 8.1 %, auto 8.6 % (Adam's first steps follow the gradients' signs, so bf16 rounding flips a few)
    assert error["off"] < 0.15
    assert error["auto"] < 1.25 * error["off"], error


def test_8bit_adamw_on_a_cpu_is_one_clear_error(tmp_path):
    model = write_checkpoint("sd1", str(tmp_path / "base.safetensors"), seed=0)
    data = write_dataset(tmp_path / "data", count=2)
    result = run_cli(
        "train",
        "--config",
        str(tiny_config(tmp_path, model, data, "run", "epochs: 1\noptimizer: adamw8bit\n")),
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "`optimizer: adamw8bit` needs a CUDA GPU" in result.stderr and "Traceback" not in result.stderr


def test_cpu_precision_follows_the_request_and_the_model_size(tmp_path):
    small = write_checkpoint("sd1", str(tmp_path / "base.safetensors"), seed=0)
    assert pick_compute("auto", small).dtype == torch.float32  # tiny model: bf16 would not pay
    assert "small base model" in pick_compute("auto", small).reason
    assert pick_compute("no", small).dtype == torch.float32
    assert pick_compute("bf16", small).dtype == torch.bfloat16  # asked for: honoured
    fp16 = pick_compute("fp16", small)
    assert fp16.dtype == torch.float32 and "fp16 is slow on a CPU" in fp16.reason


def test_flop_counter_counts_cpu_attention_and_losses_are_read_at_once_on_a_cpu():
    flops = StepFlops()
    q = torch.randn(1, 2, 64, 16, requires_grad=True)
    with flops.counting(images=1):
        torch.nn.functional.scaled_dot_product_attention(q, q, q).sum().backward()
    # one 64×16 by 16×64 product over both heads costs 2·2·64·16·64; the forward has two (QKᵀ, AV), the backward
    # five (it recomputes QKᵀ, then dV, dP, dQ, dK), as torch's formula for the CUDA kernels counts them
    assert flops.per_image == 7 * (2 * 2 * 64 * 16 * 64)
    assert flops.tflops(images=2, seconds=1.0) == round(flops.per_image * 2 / 1e12, 4)
    reader = LossReader("cpu")
    assert reader.push(torch.tensor(0.25), {"step": 1}) == [(0.25, {"step": 1})]
    assert reader.drain() == []
