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
