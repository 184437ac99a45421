"""Packed frozen convolutions compute what the plain ones compute, forward and input gradient."""

from __future__ import annotations

import pytest
import torch
from lora_scripts_engine.packed_conv import pack_frozen_convolutions
from packed_layers import NO_BF16_PACKING, output_and_input_gradient, tolerance


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("kernel, stride, padding, size", [(3, 1, 1, 8), (3, 2, 1, 8), (3, 2, 1, 7), (1, 1, 0, 5)])
def test_packed_convolution_matches_the_plain_one(dtype, kernel, stride, padding, size):
    if dtype == torch.bfloat16 and NO_BF16_PACKING:
        pytest.skip(f"this CPU: {NO_BF16_PACKING}")
    torch.manual_seed(0)
    plain = torch.nn.Conv2d(32, 48, kernel, stride=stride, padding=padding).to(dtype).requires_grad_(False)
    packed = torch.nn.Conv2d(32, 48, kernel, stride=stride, padding=padding).to(dtype).requires_grad_(False)
    packed.load_state_dict(plain.state_dict())
    assert pack_frozen_convolutions(packed) == 1
    x = torch.randn(2, 32, size, size, dtype=dtype).contiguous(memory_format=torch.channels_last)
    outputs, grads = zip(*(output_and_input_gradient(conv, x) for conv in (plain, packed)))
    # another input size later (another bucket, or sampling) still gives the plain convolution's results
    other = torch.randn(1, 32, size + 3, size + 1, dtype=dtype).contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(outputs[1], outputs[0], **tolerance(dtype))
    torch.testing.assert_close(grads[1], grads[0], **tolerance(dtype))
    torch.testing.assert_close(packed(other).float(), plain(other).float(), **tolerance(dtype))
    assert plain.state_dict().keys() == packed.state_dict().keys()  # LoRA saving filters the same keys
    assert (packed.weight.numel() == 0) == (stride == 1)  # released where the backward no longer reads it


def test_the_flop_counter_counts_packed_convolutions_as_plain_ones():
    import lora_scripts_engine.speed  # noqa: F401  (registers the formula)
    from torch.utils.flop_counter import FlopCounterMode

    counts = []
    for packed in (False, True):
        conv = torch.nn.Conv2d(8, 16, 3, padding=1).requires_grad_(False)
        if packed:
            pack_frozen_convolutions(conv)
        x = torch.randn(1, 8, 6, 6).contiguous(memory_format=torch.channels_last).requires_grad_(True)
        with FlopCounterMode(display=False) as counter:
            conv(x).sum().backward()
        counts.append(counter.get_total_flops())
    assert counts[0] == counts[1] == 2 * (2 * 16 * 36 * 8 * 9)  # forward + input gradient


def test_trainable_convolutions_are_left_alone():
    conv = torch.nn.Conv2d(4, 4, 3)
    assert pack_frozen_convolutions(conv) == 0
