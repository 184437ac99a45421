"""Frozen convolutions with their weights packed once for oneDNN (CPU training only).

PyTorch hands a CPU convolution its weight in PyTorch's layout, and oneDNN reorders it into its own blocked layout at
every call, for the forward pass and again for the input gradient. A LoRA run never changes those weights, so this is
the same work at every step; at batch 1 the UNet's 8×8 and 4×4 feature maps spend more time on it than on the
arithmetic. Measured on 2 cores in bf16 (a 1280-channel 3×3 convolution, GFLOP/s): forward 277 → 394 at 8×8 and
107 → 239 at 4×4; input gradient 116 → 387 and 38 → 276. Both packed results are bit-identical to the plain ones.

The input gradient of a stride-1 convolution is a forward convolution of the output gradient with the weight
mirrored in space and its in/out channels swapped, so it is packed the same way. The plain weight of such a
convolution is then released (it is never read again during training: the LoRA files hold only LoRA weights), so the
two packed copies cost one extra copy of the convolution weights. Strided convolutions keep their weight for the
ordinary backward.
"""

from __future__ import annotations

import types

import torch

mkldnn = torch.ops.mkldnn
PACKABLE_DTYPES = (torch.float32, torch.bfloat16)


def pack(weight: torch.Tensor, padding, stride, dilation, input_shape) -> torch.Tensor:
    """oneDNN's layout of `weight` for inputs of `input_shape` (a layout picked for another size can be slower than
    none: measured 2.5 s instead of 1.6 s per step, so packing waits for the first real input)."""
    return torch._C._nn.mkldnn_reorder_conv2d_weight(
        weight.to_mkldnn(), list(padding), list(stride), list(dilation), 1, list(input_shape)
    )


class PackedWeights:
    def __init__(self, conv: torch.nn.Conv2d, input_shape: tuple):
        weight = conv.weight.detach().contiguous(memory_format=torch.channels_last)
        self.padding, self.stride, self.dilation = list(conv.padding), list(conv.stride), list(conv.dilation)
        self.forward = pack(weight, conv.padding, conv.stride, conv.dilation, input_shape)
        self.backward = None
        if conv.stride == (1, 1):
            # padding' = dilation·(kernel − 1) − padding gives the input's size back for a stride-1 convolution
            self.backward_padding = [d * (k - 1) - p for d, k, p in zip(conv.dilation, conv.kernel_size, conv.padding)]
            mirrored = weight.flip(2, 3).transpose(0, 1).contiguous(memory_format=torch.channels_last)
            output_shape = (input_shape[0], conv.out_channels, *input_shape[2:])
            self.backward = pack(mirrored, self.backward_padding, conv.stride, conv.dilation, output_shape)
            conv.weight.data = torch.empty(0, dtype=weight.dtype)  # released: see the module docstring


class PackedConvolution(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, bias, conv):
        packed = conv._packed_weights
        ctx.conv, ctx.input_shape = conv, tuple(x.shape)
        return mkldnn._convolution_pointwise(
            x, packed.forward, bias, packed.padding, packed.stride, packed.dilation, 1, "none", [], ""
        )

    @staticmethod
    def backward(ctx, grad):
        if not ctx.needs_input_grad[0]:
            return None, None, None
        conv, grad = ctx.conv, grad.contiguous(memory_format=torch.channels_last)
        packed = conv._packed_weights
        if packed.backward is not None:
            grad_input = mkldnn._convolution_pointwise(
                grad, packed.backward, None, packed.backward_padding, [1, 1], packed.dilation, 1, "none", [], ""
            )
        else:
            grad_input = torch.nn.grad.conv2d_input(
                ctx.input_shape, conv.weight.detach(), grad, packed.stride, packed.padding, packed.dilation
            )
        return grad_input, None, None


def packed_forward(self: torch.nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    # Under autocast a plain convolution runs in the autocast dtype, which the frozen weights are stored in.
    x = x.to(self._packed_dtype).contiguous(memory_format=torch.channels_last)
    if not hasattr(self, "_packed_weights"):
        self._packed_weights = PackedWeights(self, tuple(x.shape))  # on the first call: see `pack`
    bias = None if self.bias is None else self.bias.detach()
    return PackedConvolution.apply(x, bias, self)


def is_packable(conv: torch.nn.Module) -> bool:
    return (
        type(conv) is torch.nn.Conv2d
        and conv.groups == 1
        and conv.padding_mode == "zeros"
        and not isinstance(conv.padding, str)
        and conv.weight.dtype in PACKABLE_DTYPES
        and conv.weight.device.type == "cpu"
        and not conv.weight.requires_grad
        and (conv.bias is None or not conv.bias.requires_grad)
    )


def switch_frozen_layers(module: torch.nn.Module, is_packable, packed_forward) -> int:
    """Gives every layer under `module` that `is_packable` accepts the forward `packed_forward`, which packs its weights
    on its first call; returns how many. Shared by packed convolutions and linear layers."""
    if not torch.backends.mkldnn.is_available():
        return 0
    layers = [child for child in module.modules() if is_packable(child)]
    for layer in layers:
        layer._packed_dtype = layer.weight.dtype
        layer.forward = types.MethodType(packed_forward, layer)
    return len(layers)


def pack_frozen_convolutions(module: torch.nn.Module) -> int:
    """Switches every frozen 2-D convolution under `module` to weights packed on its first call; returns how many."""
    return switch_frozen_layers(module, is_packable, packed_forward)
