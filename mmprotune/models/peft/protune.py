"""Pro-tuning prompt blocks: small input-dependent prompt generators.

Each block maps the features entering a stage or block to a prompt of the
shape of its output, which the backbone wrapper adds to that output
(``prompt_cfg.prompt_input='input'``, the ResNet and Swin default: a learnt
parallel path, see ``PromptedBackboneMixin``), or a stage's output features
to a prompt of the same shape added to them (``'output'``, the ViT one).
The last projection starts at zero, so a freshly built block returns an
all-zero prompt and the prompted backbone computes exactly what the
pretrained one does at step 0.
"""
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer

from mmprotune.registry import MODELS
from .base import StageBlock, depthwise, depthwise_convs, hidden_width


class _BottleneckPrompt(StageBlock):
    """Shared parameters and init of the two prompt block layouts.

    Layers: ``down`` (C_src -> hidden), ``dw`` (depth-wise ``k x k`` over the
    hidden channels, with ``stride``; or several sizes averaged,
    :func:`depthwise`), ``act``, ``up`` (hidden -> C, zero-initialised) and,
    with ``layer_scale``, ``scale``: a learnt per-channel factor (C, ) on the
    prompt, starting at 1. Subclasses choose how ``down``/``up`` are applied
    (1x1 conv on maps, linear on tokens) and their ``input_layout``.

    ``source_channels`` and ``stride`` are set by the backbone wrapper (they
    are no ``prompt_cfg`` fields) for a prompt computed from features of
    another shape than those it is added to: C_src channels on a grid
    ``stride`` times as large (a ResNet stage's input). The depth-wise conv
    takes the stride: with odd ``k`` and ``padding=k // 2`` it turns H into
    ``ceil(H / stride)``, what a ResNet block's strided 3x3 conv (and its
    strided or ``ceil_mode`` average-pooled shortcut) gives, for odd H too.
    """
    method_name = 'protune'
    built_args = ('in_channels', 'source_channels', 'stride')

    def __init__(self,
                 in_channels: int,
                 hidden_channels: Optional[int] = None,
                 hidden_ratio: Optional[float] = None,
                 kernel_size: Union[int, Sequence[int]] = 3,
                 act_cfg: dict = dict(type='GELU'),
                 layer_scale: bool = False,
                 source_channels: Optional[int] = None,
                 stride: int = 1):
        super().__init__()
        if not isinstance(layer_scale, bool):
            raise ValueError('prompt_cfg.layer_scale must be True or False, '
                             f'got {layer_scale!r}')
        hidden = hidden_width(in_channels, hidden_channels, hidden_ratio)
        self.in_channels = in_channels
        self.hidden_channels = hidden
        self.down = self._projection(source_channels or in_channels, hidden)
        self.dw = depthwise(hidden, kernel_size, stride)
        self.act = build_activation_layer(act_cfg)
        self.up = self._projection(hidden, in_channels)
        self.scale = nn.Parameter(torch.empty(in_channels)) \
            if layer_scale else None
        self.init_weights()

    @staticmethod
    def _projection(in_channels: int, out_channels: int) -> nn.Module:
        raise NotImplementedError

    def init_weights(self) -> None:
        """Kaiming-init ``down`` and the depth-wise convs; zero ``up`` (the
        prompt starts at 0); ``scale`` at 1."""
        for layer in (self.down, *depthwise_convs(self.dw)):
            nn.init.kaiming_normal_(
                layer.weight, mode='fan_out', nonlinearity='relu')
            nn.init.zeros_(layer.bias)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)
        if self.scale is not None:
            nn.init.ones_(self.scale)

    def _scaled(self, prompt: torch.Tensor, channel_dim: int) -> torch.Tensor:
        """``prompt`` times ``scale`` along ``channel_dim`` (if learnt)."""
        if self.scale is None:
            return prompt
        shape = [1] * prompt.dim()
        shape[channel_dim] = -1
        return prompt * self.scale.view(shape)


@MODELS.register_module()
class ConvPromptBlock(_BottleneckPrompt):
    """Pro-tuning prompt block for feature maps (CNN stages).

    ``prompt = up(act(dw(down(x))))`` with 1x1 convolutions for ``down`` and
    ``up``, of the stage input ``x`` (or, with ``prompt_input='output'``,
    of the stage output); the wrapper adds it to the stage output.

    Args:
        in_channels (int): Channels C of the stage output (and of the
            prompt).
        hidden_channels (int, optional): Bottleneck width. Default: 64 when
            ``hidden_ratio`` is not given either.
        hidden_ratio (float, optional): Bottleneck width as a fraction of C.
        kernel_size (int | Sequence[int]): Odd size of the depth-wise conv,
            or several (e.g. ``(3, 5, 7)``): depth-wise convs of each size
            side by side, averaged. Default: 3.
        act_cfg (dict): Activation. Default: ``dict(type='GELU')``.
        layer_scale (bool): Multiply the prompt by a learnt per-channel
            scale (C, ), starting at 1. Default: False.
        source_channels (int, optional): Channels C_src of the features the
            prompt is computed from. Default: C.
        stride (int): Their size over the prompt's (the depth-wise conv's
            stride). Default: 1.

    Example:
        >>> block = ConvPromptBlock(256, hidden_channels=16)
        >>> x = torch.rand(2, 256, 8, 8)
        >>> prompt = block(x)
        >>> prompt.shape, bool(prompt.eq(0).all())
        (torch.Size([2, 256, 8, 8]), True)
        >>> block = ConvPromptBlock(256, source_channels=128, stride=2)
        >>> block(torch.rand(2, 128, 15, 15)).shape
        torch.Size([2, 256, 8, 8])
    """
    input_layout = 'map'

    @staticmethod
    def _projection(in_channels: int, out_channels: int) -> nn.Module:
        return nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C_src, H, W) features -> (N, C, ceil(H / stride),
        ceil(W / stride)) prompt."""
        return self._scaled(self.up(self.act(self.dw(self.down(x)))), 1)


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
        """(N, L, C_src) tokens on an ``hw_shape`` = (H, W) grid, L = H * W
        -> (N, L', C) prompt on the (ceil(H / stride), ceil(W / stride))
        grid (L' = L with the default stride 1)."""
        n, length, _ = x.shape
        h, w = hw_shape
        hidden = self.down(x).transpose(1, 2).reshape(n, -1, h, w)
        hidden = self.act(self.dw(hidden))
        return self._scaled(self.up(hidden.flatten(2).transpose(1, 2)), -1)

