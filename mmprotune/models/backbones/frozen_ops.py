"""Frozen layers that keep almost nothing alive for backward.

A frozen layer only has to pass the gradient on to its input. Autograd does
not know that the weights will never get a gradient, so a plain frozen
``Conv2d`` still saves its input, an eval-mode ``BatchNorm`` its input, a
``ReLU`` its float output. The functions here compute the same forward and
keep only what the input gradient needs:

- :class:`FrozenConvAffine`: convolution, frozen eval-mode BatchNorm (run as
  upstream runs it, so the output is bit for bit upstream's), optional ReLU
  or ReLU6 (:data:`ACTIVATIONS`). It saves the weight (a parameter, no new
  memory), the BN's per-channel scale (see :func:`frozen_bn_scale`) and,
  with an activation, where it passes the gradient, packed 8 per byte: 1
  bit per output element instead of two float tensors (64 bits). Its
  input gradient is the transposed convolution (a depth-wise one for a
  depth-wise convolution), or for a 1x1 convolution a matrix product (one
  input-sized allocation instead of two).
- :class:`MaskedReLU`: ReLU saving its packed mask.

Both compute the input gradient in the dtype the forward ran in, so they work
under autocast.
"""
import functools
import sys
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.autograd import Function
from torch.nn.modules.batchnorm import _BatchNorm


def _compute_dtype(x: Tensor) -> torch.dtype:
    """The dtype autocast would run a convolution on ``x`` in."""
    device = x.device.type
    if torch.is_autocast_enabled(device):
        return torch.get_autocast_dtype(device)
    return x.dtype


#: ``int64`` constant of :func:`pack_mask`: byte j of a word -> bit 56 + j.
_GATHER_BITS = 0x0102040810204080


#: Index of an int64 word's top byte among its 8 bytes in memory.
_TOP_BYTE = 7 if sys.byteorder == 'little' else 0


def pack_mask(mask: Tensor) -> Tensor:
    """Bool tensor of any shape -> uint8 tensor of ceil(numel / 8) bytes
    (element ``8 i + j`` is bit ``j`` of byte ``i``).

    Each group of 8 bools is read as one int64 word and multiplied by
    :data:`_GATHER_BITS`, which moves the 8 bits into its top byte; the top
    bytes are then copied out (numel / 8 words -> numel / 8 bytes): two
    element-wise ops on numel / 8 words, no reduction.
    """
    flat = mask.reshape(-1)
    if flat.numel() % 8:
        flat = torch.cat([flat, flat.new_zeros(-flat.numel() % 8)])
    words = flat.view(torch.uint8).view(torch.int64) * _GATHER_BITS
    return words.view(torch.uint8)[_TOP_BYTE::8].clone()


@functools.lru_cache(maxsize=None)
def _bit_table(device: torch.device, dtype: torch.dtype) -> Tensor:
    """(256, 8) table whose row ``b`` holds the bits of ``b`` as 0 / 1 of
    ``dtype``; built once per device and dtype (a few KB each)."""
    # a normal tensor even when first asked for under inference mode
    with torch.inference_mode(False), torch.no_grad():
        table = (torch.arange(256, device=device).unsqueeze(1) >>
                 torch.arange(8, device=device)) & 1
        return table.to(dtype)


def unpack_mask(packed: Tensor,
                shape: torch.Size,
                dtype: torch.dtype = torch.bool) -> Tensor:
    """Inverse of :func:`pack_mask`: the mask of ``shape``, as 0 / 1 of
    ``dtype`` (e.g. the gradient's, to multiply it with).

    One table lookup per byte: row ``b`` of a (256, 8) table (cached per
    device and dtype) holds the bits of ``b``.
    """
    bits = _bit_table(packed.device, dtype).index_select(0, packed.long())
    return bits.view(-1)[:shape.numel()].view(shape)


def _masked(grad: Tensor, packed: Tensor) -> Tensor:
    """``grad`` where the :func:`pack_mask`-ed mask is set, else 0 (a
    multiplication by the mask as 0 / 1 in ``grad``'s dtype is several times
    faster on CPU than ``torch.where`` or one by a bool tensor).

    The product is written into the unpacked mask, a new tensor of
    ``grad``'s shape: one grad-sized allocation, not two (``grad`` itself
    may be shared with another branch, so it is not written to)."""
    return unpack_mask(packed, grad.shape, grad.dtype).mul_(grad)


#: Activations the fast path applies in place after a frozen conv and BN:
#: name -> (the in-place op, where its output passes the gradient).
ACTIVATIONS = {
    'relu': (torch.relu_, lambda out: out > 0),
    # ReLU6 (hardtanh to [0, 6]): no gradient where it clipped either way
    'relu6': (lambda out: F.hardtanh_(out, 0., 6.),
              lambda out: (out > 0) & (out < 6)),
}


def _conv_affine(x: Tensor, weight: Tensor, conv_args: Tuple,
                 act: Optional[str], bn_args: Tuple) -> Tensor:
    """``act?(bn(conv2d(x, weight)))`` in the autocast dtype (``act``: a
    key of :data:`ACTIVATIONS` or None).

    ``bn_args`` are ``F.batch_norm``'s arguments after the input: the BN runs
    as upstream's eval-mode BN does, which gives bit for bit its output (a
    folded affine would round differently, visibly so in bf16).
    """
    dtype = _compute_dtype(x)
    with torch.autocast(x.device.type, enabled=False):
        out = F.conv2d(x.to(dtype), weight.to(dtype), None, *conv_args)
        out = F.batch_norm(out, *bn_args)
        return ACTIVATIONS[act][0](out) if act else out


class FrozenConvAffine(Function):
    """:func:`_conv_affine` with a frozen ``weight`` and BN; backward returns
    the gradient of ``x`` only, through the BN's ``scale``.

    Shapes: x (N, C_in, H, W), weight (C_out, C_in / groups, k, k),
    scale (C_out,) -> (N, C_out, H', W').
    """

    @staticmethod
    def forward(ctx,
                x: Tensor,
                weight: Tensor,
                scale: Tensor,
                conv_args: Tuple,
                act: Optional[str],
                bn_args: Tuple) -> Tensor:
        out = _conv_affine(x, weight, conv_args, act, bn_args)
        ctx.conv_args, ctx.input_shape = conv_args, x.shape
        ctx.input_dtype = x.dtype
        ctx.save_for_backward(
            weight, scale,
            pack_mask(ACTIVATIONS[act][1](out)) if act else None)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        weight, scale, mask = ctx.saved_tensors
        if mask is not None:
            grad = _masked(grad, mask)
        # the BN scale goes on the (small) weight, not the (large) gradient
        weight = (weight * scale.view(-1, 1, 1, 1)).to(grad.dtype)
        stride, padding, dilation, groups = ctx.conv_args
        if _is_pointwise(weight, ctx.conv_args):
            grad_x = _pointwise_input_grad(grad, weight, stride,
                                           ctx.input_shape)
        else:
            # the input gradient of a convolution is the transposed
            # convolution of ``grad`` with the same weight;
            # ``output_padding`` restores the input rows/columns the strided
            # forward dropped. Unlike ``convolution_backward`` it needs no
            # input-sized stand-in tensor.
            output_padding = [
                size - ((g - 1) * s - 2 * p + d * (k - 1) + 1)
                for size, g, s, p, d, k in zip(
                    ctx.input_shape[2:], grad.shape[2:], stride, padding,
                    dilation, weight.shape[2:])
            ]
            grad_x = F.conv_transpose2d(grad, weight, None, stride, padding,
                                        output_padding, groups, dilation)
        return grad_x.to(ctx.input_dtype), None, None, None, None, None


def _is_pointwise(weight: Tensor, conv_args: Tuple) -> bool:
    """Whether a convolution is a matrix product per (strided) pixel: 1x1
    kernel, no padding, one group (dilation does not act on a 1x1 kernel)."""
    _, padding, _, groups = conv_args
    return weight.shape[2:] == (1, 1) and tuple(padding) == (0, 0) \
        and groups == 1


def _pointwise_input_grad(grad: Tensor, weight: Tensor, stride: Tuple,
                          input_shape: torch.Size) -> Tensor:
    """Input gradient of a pointwise convolution (:func:`_is_pointwise`):
    (C_in, C_out) @ (N, C_out, H' * W') -> (N, C_in, H', W'), placed at the
    pixels the stride read (zero elsewhere) of (N, C_in, H, W).

    The same sums as the transposed convolution, which on the CPU writes its
    output twice (a result and a contiguous copy: two input-sized tensors at
    once, the highest point of the frozen ResNet's backward); here only the
    output is input-sized."""
    n, c_out, h, w = grad.shape
    product = torch.matmul(weight.view(c_out, -1).t(),
                           grad.reshape(n, c_out, h * w)).view(n, -1, h, w)
    if tuple(stride) == (1, 1):
        return product
    grad_x = product.new_zeros(input_shape)
    grad_x[:, :, ::stride[0], ::stride[1]] = product
    return grad_x


class MaskedReLU(Function):
    """ReLU that keeps its packed mask (1 bit/element) for backward. It
    works in place, as upstream's ``ReLU(inplace=True)``: no new
    input-sized tensor."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        out = x.relu_()
        ctx.mark_dirty(out)
        ctx.save_for_backward(pack_mask(out > 0))
        return out

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        mask, = ctx.saved_tensors
        return _masked(grad, mask)


def frozen_bn_scale(bn: _BatchNorm) -> Tensor:
    """Per-channel scale ``s`` of an eval-mode BatchNorm,
    ``bn(y) = y * s + t``: what its input gradient is multiplied by."""
    with torch.no_grad():
        return bn.weight * torch.rsqrt(bn.running_var + bn.eps)


def _needs_grad(x: Tensor) -> bool:
    return torch.is_grad_enabled() and x.requires_grad


def frozen_conv_affine(x: Tensor,
                       conv: nn.Conv2d,
                       norm: _BatchNorm,
                       act: Optional[str] = None) -> Tensor:
    """Apply ``conv``, its eval-mode BN ``norm`` (as upstream does: bit for
    bit the upstream output), then the activation ``act`` (a key of
    :data:`ACTIVATIONS`, or None); keeps a graph (the BN scale and the mask)
    only when ``x`` needs a gradient."""
    conv_args = (conv.stride, conv.padding, conv.dilation, conv.groups)
    bn_args = (norm.running_mean, norm.running_var, norm.weight, norm.bias,
               False, 0.0, norm.eps)
    if _needs_grad(x):
        return FrozenConvAffine.apply(x, conv.weight, frozen_bn_scale(norm),
                                      conv_args, act, bn_args)
    return _conv_affine(x, conv.weight, conv_args, act, bn_args)


def masked_relu_(x: Tensor) -> Tensor:
    """ReLU in place, keeping only its packed mask for backward."""
    return MaskedReLU.apply(x) if _needs_grad(x) else x.relu_()


def is_plain_conv(conv: nn.Module) -> bool:
    """Whether the fast path can run ``conv`` as upstream does: a bias-free
    ``nn.Conv2d`` with numeric zero padding (the transposed convolution of
    backward takes no ``'same'``/``'valid'``) and a frozen weight (the fast
    path gives the weight no gradient)."""
    return type(conv) is nn.Conv2d and conv.bias is None \
        and conv.padding_mode == 'zeros' \
        and not isinstance(conv.padding, str) \
        and not conv.weight.requires_grad


def is_frozen_bn(norm: nn.Module) -> bool:
    """Whether the fast path can run ``norm`` as upstream does: an affine
    BatchNorm with running statistics, in eval mode (a BN in train mode
    normalises with the batch statistics and updates its buffers) and with
    frozen weight and bias (the fast path gives them no gradient)."""
    return isinstance(norm, _BatchNorm) and norm.affine \
        and norm.track_running_stats and not norm.training \
        and not norm.weight.requires_grad and not norm.bias.requires_grad
