"""Pro-tuning prompt blocks: small input-dependent prompt generators.

Each block maps a stage's features to a prompt of the same shape, which the
backbone wrapper adds to those features. The last projection starts at zero, so
a freshly built block returns an all-zero prompt and the prompted backbone
computes exactly what the pretrained one does at step 0.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer
from mmengine.model import BaseModule

from mmprotune.registry import MODELS

#: Width of the bottleneck when neither ``hidden_channels`` nor
#: ``hidden_ratio`` is given.
DEFAULT_HIDDEN_CHANNELS = 64


def _hidden_width(in_channels: int, hidden_channels: Optional[int],
                  hidden_ratio: Optional[float]) -> int:
    """Resolve the bottleneck width from exactly one of its two spellings."""
    if hidden_channels is not None and hidden_ratio is not None:
        raise ValueError('prompt_cfg: give either hidden_channels or '
                         f'hidden_ratio, not both (got {hidden_channels} and '
                         f'{hidden_ratio})')
    if hidden_ratio is not None:
        if not isinstance(hidden_ratio, (int, float)) or hidden_ratio <= 0:
            raise ValueError('prompt_cfg.hidden_ratio must be a number > 0, '
                             f'got {hidden_ratio!r}')
        return max(1, round(in_channels * hidden_ratio))
    if hidden_channels is None:
        return DEFAULT_HIDDEN_CHANNELS
    if not isinstance(hidden_channels, int) or hidden_channels <= 0:
        raise ValueError('prompt_cfg.hidden_channels must be an int > 0, '
                         f'got {hidden_channels!r}')
    return hidden_channels


def _check_kernel_size(kernel_size: int, field: str = 'kernel_size') -> None:
    if not isinstance(kernel_size, int) or kernel_size <= 0 \
            or kernel_size % 2 == 0:
        raise ValueError(f'prompt_cfg.{field} must be an odd int > 0 '
                         f'(the prompt keeps the spatial size), got '
                         f'{kernel_size!r}')


class _BottleneckPrompt(BaseModule):
    """Shared parameters and init of the two prompt block layouts.

    Layers: ``down`` (C -> hidden), ``dw`` (depth-wise ``k x k`` over the
    hidden channels), ``act``, ``up`` (hidden -> C, zero-initialised).
    Subclasses choose how ``down``/``up`` are applied (1x1 conv on maps,
    linear on tokens).

    Attributes:
        placement (str): ``'stage'``: the wrapper calls the block at the end
            of each tuned stage.
        input_layout (str): ``'map'`` for (N, C, H, W) inputs, ``'token'`` for
            (N, L, C) inputs with an ``hw_shape``.
    """
    placement: str = 'stage'
    input_layout: str = ''

    def __init__(self,
                 in_channels: int,
                 hidden_channels: Optional[int] = None,
                 hidden_ratio: Optional[float] = None,
                 kernel_size: int = 3,
                 act_cfg: dict = dict(type='GELU')):
        super().__init__()
        _check_kernel_size(kernel_size)
        hidden = _hidden_width(in_channels, hidden_channels, hidden_ratio)
        self.in_channels = in_channels
        self.hidden_channels = hidden
        self.down = self._projection(in_channels, hidden)
        self.dw = nn.Conv2d(
            hidden,
            hidden,
            kernel_size,
            padding=kernel_size // 2,
            groups=hidden)
        self.act = build_activation_layer(act_cfg)
        self.up = self._projection(hidden, in_channels)
        self.init_weights()

    @staticmethod
    def _projection(in_channels: int, out_channels: int) -> nn.Module:
        raise NotImplementedError

    def init_weights(self) -> None:
        """Kaiming-init ``down`` and ``dw``; zero ``up`` (prompt starts at 0)."""
        for layer in (self.down, self.dw):
            nn.init.kaiming_normal_(
                layer.weight, mode='fan_out', nonlinearity='relu')
            nn.init.zeros_(layer.bias)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)


@MODELS.register_module()
class ConvPromptBlock(_BottleneckPrompt):
    """Pro-tuning prompt block for feature maps (CNN stages).

    ``prompt = up(act(dw(down(x))))`` with 1x1 convolutions for ``down`` and
    ``up``; the wrapper adds it to the stage output: ``x + prompt``.

    Args:
        in_channels (int): Channels C of the stage output.
        hidden_channels (int, optional): Bottleneck width. Default: 64 when
            ``hidden_ratio`` is not given either.
        hidden_ratio (float, optional): Bottleneck width as a fraction of C.
        kernel_size (int): Odd size of the depth-wise conv. Default: 3.
        act_cfg (dict): Activation. Default: ``dict(type='GELU')``.

    Example:
        >>> block = ConvPromptBlock(256, hidden_channels=16)
        >>> x = torch.rand(2, 256, 8, 8)
        >>> prompt = block(x)
        >>> prompt.shape, bool(prompt.eq(0).all())
        (torch.Size([2, 256, 8, 8]), True)
    """
    input_layout = 'map'

    @staticmethod
    def _projection(in_channels: int, out_channels: int) -> nn.Module:
        return nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) features -> (N, C, H, W) prompt."""
        return self.up(self.act(self.dw(self.down(x))))


@MODELS.register_module()
class TokenPromptBlock(_BottleneckPrompt):
    """Pro-tuning prompt block for token streams (Transformer stages).

    ``down``/``up`` are linear layers on the channel dimension; between them
    the hidden tokens are laid out on their (H, W) grid for the depth-wise
    conv, which makes the prompt depend on each token's neighbourhood.

    Args: as :class:`ConvPromptBlock`.

    Example:
        >>> block = TokenPromptBlock(96, hidden_channels=16)
        >>> prompt = block(torch.rand(2, 7 * 9, 96), (7, 9))
        >>> prompt.shape
        torch.Size([2, 63, 96])
    """
    input_layout = 'token'

    @staticmethod
    def _projection(in_channels: int, out_channels: int) -> nn.Module:
        return nn.Linear(in_channels, out_channels)

    def forward(self, x: torch.Tensor,
                hw_shape: Sequence[int]) -> torch.Tensor:
        """(N, L, C) tokens on an ``hw_shape`` = (H, W) grid, L = H * W ->
        (N, L, C) prompt."""
        n, length, _ = x.shape
        h, w = hw_shape
        hidden = self.down(x).transpose(1, 2).reshape(n, -1, h, w)
        hidden = self.act(self.dw(hidden))
        return self.up(hidden.flatten(2).transpose(1, 2))


def prompt_block_types() -> Tuple[str, ...]:
    """Names of the registered prompt block and PEFT method types."""
    return tuple(sorted(MODELS.module_dict))
