import pytest
import torch
import torch.nn as nn
from torch.utils._python_dispatch import TorchDispatchMode

from mmprotune.models import ProTuneResNet
from mmprotune.models.backbones.frozen_ops import (frozen_conv_affine,
                                                   masked_relu_, pack_mask,
                                                   unpack_mask)


@pytest.mark.parametrize('shape', [(1, ), (2, 8), (3, 5, 7, 9)])
def test_mask_packing_round_trips(shape):
    mask = torch.rand(shape) > 0.5
    packed = pack_mask(mask)
    assert packed.dtype == torch.uint8
    assert packed.numel() == -(-mask.numel() // 8)
    assert torch.equal(unpack_mask(packed, mask.shape), mask)
    for dtype in (torch.float32, torch.bfloat16, torch.float64):
        assert torch.equal(unpack_mask(packed, mask.shape, dtype),
                           mask.to(dtype))


@pytest.mark.parametrize('act,reference_act', [
    ('relu', nn.ReLU()), ('relu6', nn.ReLU6()), (None, nn.Identity())])
@pytest.mark.parametrize('conv_kwargs', [
    dict(kernel_size=3, padding=1),
    dict(kernel_size=3, stride=2, padding=2, dilation=2),
    dict(kernel_size=1, stride=2),
    dict(kernel_size=3, padding=1, groups=4),
    # MobileNetV2's depth-wise convolution, strided
    dict(kernel_size=3, stride=2, padding=1, groups=8, out_channels=8),
])
def test_conv_affine_matches_conv_bn_act(conv_kwargs, act, reference_act):
    torch.manual_seed(0)
    conv_kwargs = dict(dict(out_channels=12), **conv_kwargs)
    channels = conv_kwargs['out_channels']
    conv = nn.Conv2d(8, bias=False, **conv_kwargs).double()
    bn = nn.BatchNorm2d(channels).double().eval()
    with torch.no_grad():
        # outputs on both sides of ReLU6's clip at 6
        bn.weight.uniform_(0.5, 2)
        bn.bias.normal_(std=4)
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.5, 2)
    conv.requires_grad_(False)
    bn.requires_grad_(False)
    x = torch.randn(2, 8, 11, 13, dtype=torch.double, requires_grad=True)
    reference = reference_act(bn(conv(x)))
    if act == 'relu6':
        assert reference.eq(6).any() and reference.eq(0).any()
    out = frozen_conv_affine(x, conv, bn, act=act)
    assert torch.allclose(out, reference, atol=1e-12)
    grad = torch.randn_like(out)
    expected, = torch.autograd.grad(reference, x, grad)
    actual, = torch.autograd.grad(out, x, grad)
    assert torch.allclose(actual, expected, atol=1e-12)


def test_masked_relu_gradient():
    """In place on a non-leaf (as the ResNet fast path calls it): the
    returned tensor is the input, modified, with ReLU's gradient."""
    x = torch.randn(3, 17, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: masked_relu_(t * 1), (x, ))
    y = x * 1
    out = masked_relu_(y)
    assert out is y and torch.equal(out, x.relu())


class _Ops(TorchDispatchMode):
    """Records every aten op with the shapes of its tensor outputs."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        outs = out if isinstance(out, (tuple, list)) else (out, )
        self.calls.append((func.overloadpacket.__name__, [
            tuple(o.shape) for o in outs if isinstance(o, torch.Tensor)]))
        return out


def test_unpack_mask_table_is_built_once_per_device_and_dtype():
    packed = pack_mask(torch.rand(5, 7) > 0.5)
    for dtype in (torch.bool, torch.float32):
        unpack_mask(packed, torch.Size((5, 7)), dtype)
        with _Ops() as ops:
            unpack_mask(packed, torch.Size((5, 7)), dtype)
        assert not [name for name, _ in ops.calls if name == 'arange'], \
            ops.calls


def test_conv_backward_allocates_no_input_sized_stand_in():
    """The input gradient is the only input-sized tensor backward makes."""
    conv = nn.Conv2d(8, 12, 3, padding=1, stride=2, bias=False)
    bn = nn.BatchNorm2d(12).eval()
    conv.requires_grad_(False)
    bn.requires_grad_(False)
    x = torch.randn(2, 8, 15, 15, requires_grad=True)
    out = frozen_conv_affine(x, conv, bn, act='relu')
    grad = torch.randn_like(out)
    with _Ops() as ops:
        actual, = torch.autograd.grad(out, x, grad)
    input_sized = [name for name, shapes in ops.calls
                   if tuple(x.shape) in shapes]
    assert len(input_sized) == 1, ops.calls
    expected, = torch.autograd.grad(bn(conv(x)).relu(), x, grad)
    assert torch.allclose(actual, expected, atol=1e-5)


def test_fast_path_block_adds_and_rectifies_in_place():
    """As upstream's block does, the residual sum and the last ReLU of a
    fast-path block write into the last convolution's output: no new
    output-sized tensor for them."""
    model = ProTuneResNet(depth=50, base_channels=4, stem_channels=4)
    block = model.layer2[0]
    x = torch.randn(1, block.conv1.in_channels, 8, 8, requires_grad=True)
    with _Ops() as ops:
        out = model._run_block(block, x)
    names = [name for name, shapes in ops.calls if tuple(out.shape) in shapes]
    assert 'add_' in names and 'relu_' in names, names
    assert 'add' not in names and 'relu' not in names, names
