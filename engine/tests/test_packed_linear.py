"""Packed frozen linear layers compute what the plain ones compute, forward and input gradient."""

from __future__ import annotations

import pytest
import torch
from lora_scripts_engine.packed_linear import pack_frozen_linears
from packed_layers import NO_BF16_PACKING, output_and_input_gradient, tolerance


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("leading", [(7,), (2, 9)])
def test_packed_linear_matches_the_plain_one(dtype, bias, leading):
    if dtype == torch.bfloat16 and NO_BF16_PACKING:
        pytest.skip(f"this CPU: {NO_BF16_PACKING}")
    torch.manual_seed(0)
    plain = torch.nn.Linear(48, 40, bias=bias).to(dtype).requires_grad_(False)
    packed = torch.nn.Linear(48, 40, bias=bias).to(dtype).requires_grad_(False)
    packed.load_state_dict(plain.state_dict())
    assert pack_frozen_linears(packed) == 1
    x = torch.randn(*leading, 48, dtype=dtype)
    outputs, grads = zip(*(output_and_input_gradient(linear, x) for linear in (plain, packed)))
    other = torch.randn(3, 48, dtype=dtype)  # another row count later (another bucket, or sampling)
    torch.testing.assert_close(outputs[1], outputs[0], **tolerance(dtype))
    torch.testing.assert_close(grads[1], grads[0], **tolerance(dtype))
    torch.testing.assert_close(packed(other).float(), plain(other).float(), **tolerance(dtype))
    assert packed.weight.numel() == 0  # released: the packed copies are what runs
    assert plain.state_dict().keys() == packed.state_dict().keys()


def test_the_flop_counter_counts_packed_linears_as_plain_ones():
    import lora_scripts_engine.speed  # noqa: F401  (registers the formula)
    from torch.utils.flop_counter import FlopCounterMode

    counts = []
    for packed in (False, True):
        linear = torch.nn.Linear(8, 16).requires_grad_(False)
        if packed:
            pack_frozen_linears(linear)
        x = torch.randn(2, 5, 8).requires_grad_(True)
        with FlopCounterMode(display=False) as counter:
            linear(x).sum().backward()
        counts.append(counter.get_total_flops())
    assert counts[0] == counts[1] == 2 * (2 * 10 * 16 * 8)  # forward + input gradient


def test_trainable_linears_are_left_alone():
    assert pack_frozen_linears(torch.nn.Linear(4, 4)) == 0
