import pytest
import torch

from mmprotune.models import ConvPromptBlock, TokenPromptBlock
from mmprotune.models.peft.base import DEFAULT_HIDDEN_CHANNELS
from mmprotune.registry import MODELS


def test_registered():
    assert MODELS.get('ConvPromptBlock') is ConvPromptBlock
    assert MODELS.get('TokenPromptBlock') is TokenPromptBlock


def test_conv_block_starts_at_zero_and_learns():
    block = ConvPromptBlock(32, hidden_ratio=0.25, kernel_size=5)
    assert block.hidden_channels == 8
    assert block.dw.kernel_size == (5, 5) and block.dw.groups == 8
    x = torch.randn(2, 32, 9, 7)
    prompt = block(x)
    assert prompt.shape == x.shape
    assert torch.equal(prompt, torch.zeros_like(x))
    prompt.square().add(prompt).sum().backward()
    # the zero projection gets a gradient at once, the others after it moves
    assert block.up.weight.grad.abs().sum() > 0
    assert block.up.bias.grad.abs().sum() > 0


def test_token_block_matches_conv_block_on_the_grid():
    torch.manual_seed(0)
    conv = ConvPromptBlock(12, hidden_channels=4)
    token = TokenPromptBlock(12, hidden_channels=4)
    for c, t in ((conv.down, token.down), (conv.up, token.up)):
        torch.nn.init.normal_(c.weight)
        t.weight.data.copy_(c.weight.data.flatten(1))
        t.bias.data.copy_(c.bias.data)
    token.dw.load_state_dict(conv.dw.state_dict())
    x = torch.randn(2, 12, 3, 5)
    tokens = x.flatten(2).transpose(1, 2)
    out = token(tokens, (3, 5))
    assert out.shape == (2, 15, 12)
    expected = conv(x).flatten(2).transpose(1, 2)
    assert torch.allclose(out, expected, atol=1e-5)


def test_init_weights_rezeroes_the_output():
    block = TokenPromptBlock(16)
    assert block.hidden_channels == DEFAULT_HIDDEN_CHANNELS
    torch.nn.init.normal_(block.up.weight)
    block.init_weights()
    assert torch.equal(block(torch.randn(1, 4, 16), (2, 2)),
                       torch.zeros(1, 4, 16))


@pytest.mark.parametrize('kwargs, field', [
    (dict(kernel_size=4), 'kernel_size'),
    (dict(kernel_size=0), 'kernel_size'),
    (dict(kernel_size=3.0), 'kernel_size'),
    (dict(hidden_channels=0), 'hidden_channels'),
    (dict(hidden_channels=-3), 'hidden_channels'),
    (dict(hidden_ratio=0.0), 'hidden_ratio'),
    (dict(hidden_ratio=0.5, hidden_channels=4), 'hidden_channels'),
])
@pytest.mark.parametrize('block_cls', [ConvPromptBlock, TokenPromptBlock])
def test_bad_arguments_name_the_field(block_cls, kwargs, field):
    with pytest.raises(ValueError, match=field):
        block_cls(16, **kwargs)


@pytest.mark.parametrize('kernel_size', [(3, 5), [1, 3, 7]])
def test_multi_scale_kernels_average_their_convs(kernel_size):
    torch.manual_seed(0)
    block = ConvPromptBlock(16, hidden_channels=4, kernel_size=kernel_size)
    convs = block.dw.convs
    assert [c.kernel_size[0] for c in convs] == list(kernel_size)
    assert all(c.groups == 4 for c in convs)
    x = torch.randn(2, 4, 6, 5)
    # the mean of the sizes' outputs, each conv run on its own
    expected = torch.stack([
        torch.nn.functional.conv2d(
            x, c.weight, c.bias, padding=c.kernel_size[0] // 2, groups=4)
        for c in convs
    ]).mean(0)
    assert torch.allclose(block.dw(x), expected, atol=1e-6)
    # a fresh block's prompt is zero; every conv learns once ``up`` moved
    assert torch.equal(block(torch.randn(2, 16, 6, 5)),
                       torch.zeros(2, 16, 6, 5))
    torch.nn.init.normal_(block.up.weight)
    block(torch.randn(2, 16, 6, 5)).sum().backward()
    assert all(c.weight.grad.abs().sum() > 0 for c in convs)


@pytest.mark.parametrize('block_cls, shape, args, dim', [
    (ConvPromptBlock, (2, 8, 3, 4), (), 1),
    (TokenPromptBlock, (2, 12, 8), ((3, 4), ), 2),
])
def test_layer_scale_scales_each_channel(block_cls, shape, args, dim):
    torch.manual_seed(0)
    block = block_cls(8, hidden_channels=4, layer_scale=True)
    assert block.scale.shape == (8, ) and torch.equal(block.scale,
                                                      torch.ones(8))
    x = torch.randn(*shape)
    assert torch.equal(block(x, *args), torch.zeros(shape))  # starts at 0
    torch.nn.init.normal_(block.up.weight)
    unscaled = block(x, *args).detach()
    factors = torch.arange(1., 9.)
    block.scale.data.copy_(factors)
    view = [1] * len(shape)
    view[dim] = 8
    assert torch.allclose(block(x, *args), unscaled * factors.view(view))
    block(x, *args).sum().backward()
    assert block.scale.grad.abs().min() > 0


def test_default_block_has_no_scale_and_one_conv():
    block = ConvPromptBlock(16)
    assert block.scale is None and isinstance(block.dw, torch.nn.Conv2d)
    assert not any('scale' in k for k in block.state_dict())


@pytest.mark.parametrize('kwargs, message', [
    (dict(kernel_size=(3, 4)), 'kernel_size must be an odd int'),
    (dict(kernel_size=()), 'kernel_size must be an odd int > 0 or a non-'),
    (dict(kernel_size='3'), 'kernel_size must be an odd int > 0 or a non-'),
    (dict(kernel_size=(3, 3)), r'kernel_size=\[3, 3\] repeats a size'),
    (dict(layer_scale=1), 'layer_scale must be True or False'),
])
def test_bad_block_variants_name_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ConvPromptBlock(16, **kwargs)
