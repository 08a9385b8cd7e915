"""BitFit (Ben Zaken et al., arXiv 2106.10199): a trainable offset on
every bias of a tuned stage."""
from typing import Tuple

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmprotune.registry import MODELS
from .base import HookedMethod


def _channel_view(vector: torch.Tensor, output: torch.Tensor,
                  channel_dim: int) -> torch.Tensor:
    """``vector`` (C,) shaped to broadcast over ``output``'s channel dim:
    1 for (N, C, H, W) maps, -1 for (N, L, C) tokens."""
    if channel_dim == -1:
        return vector
    return vector.view(-1, *([1] * (output.dim() - 2)))


class _BiasOffset(nn.Module):
    """A trainable offset added to a frozen layer's bias: ``y + delta``."""

    def __init__(self, channels: int, channel_dim: int):
        super().__init__()
        self.channel_dim = channel_dim
        self.delta = nn.Parameter(torch.zeros(channels))

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.delta)

    def forward_hook(self, module: nn.Module, args: tuple,
                     output: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) maps or (N, L, C) tokens -> the same plus delta."""
        return output + _channel_view(self.delta, output, self.channel_dim)


@MODELS.register_module()
class BitFit(HookedMethod):
    """BitFit: tune only the bias terms (Ben Zaken et al., arXiv 2106.10199).

    Every layer of a tuned stage that has a bias (``nn.Linear``,
    ``nn.LayerNorm``, convolutions, and BatchNorm's shift) gets a trainable
    offset ``delta`` (zero-initialised) added to its output:
    ``y = W x + (b + delta)``. This equals training ``b`` from its
    pretrained value, while the frozen ``b`` stays bit-identical. A Swin
    stage includes its patch merging (its LayerNorm gets an offset), except
    the last ``out_indices`` stage's, which reaches no output. Swin's
    relative position bias tables are attention logits, not layer biases,
    and stay frozen; so do the stem / patch embedding and the output norms,
    which are outside the stages. MobileNetV2's convolutions have no bias,
    so, as in ResNet, its BNs' shifts get the offsets: the expansion's,
    depth-wise conv's and projection's of each inverted residual block
    (two in ``layer1``'s, which has no expansion) and ``conv2``'s.

    Args:
        stage (nn.Module): See :class:`HookedMethod`.
        family (str): See :class:`HookedMethod`.
        skip (tuple[str]): Children of the stage left out (set by
            :meth:`stage_args`, not a ``prompt_cfg`` field).
            Default: ().

    Example:
        >>> from mmprotune.models import ProTuneResNet
        >>> model = ProTuneResNet(depth=18, base_channels=8,
        ...                       prompt_cfg=dict(type='BitFit', stages=[0]))
        >>> sum(p.numel() for p in model.prompts.parameters())  # 4 BNs x 8
        32
    """
    families = ('resnet', 'swin', 'mobilenetv2')
    method_name = 'bitfit'
    built_args = HookedMethod.built_args + ('skip', )

    def __init__(self, stage: nn.Module, family: str,
                 skip: Tuple[str, ...] = ()):
        super().__init__(stage, family)
        for name, module in stage.named_modules():
            if name.split('.')[0] in skip:
                continue
            if isinstance(module, (nn.Linear, nn.LayerNorm)):
                channel_dim = -1
            elif isinstance(module, (nn.Conv2d, _BatchNorm)):
                channel_dim = 1
            else:
                continue
            if getattr(module, 'bias', None) is not None:
                self._attach(name, module,
                             _BiasOffset(module.bias.numel(), channel_dim))

    @classmethod
    def stage_args(cls, backbone: nn.Module, stage_index: int) -> dict:
        """A Swin stage's output is taken before its patch merging, so the
        patch merging of the last ``out_indices`` stage reaches no output
        and gets no offsets (``skip``)."""
        if backbone.family == 'swin' and \
                stage_index >= backbone.last_output_stage():
            return dict(skip=('downsample', ))
        return {}
