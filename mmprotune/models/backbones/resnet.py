"""Pro-tuning ResNets: a prompt block after each selected residual stage."""
from typing import List, Tuple

import torch
from mmdet.models.backbones import ResNet as DetResNet
from mmdet.registry import MODELS as DET_MODELS
from mmseg.models.backbones import ResNet as SegResNet
from mmseg.models.backbones import ResNetV1c as SegResNetV1c
from mmseg.registry import MODELS as SEG_MODELS

from ..prompted import PromptedBackboneMixin


class PromptedResNetMixin(PromptedBackboneMixin):
    """ResNet family: stage ``i`` is ``layer{i+1}``; its output (N, C_i, H, W)
    with ``C_i = base_channels * 2**i * expansion`` gets
    ``x + prompt_i(x)`` before it is returned and fed to the next stage.

    Example:
        >>> from mmprotune.models import ProTuneResNet
        >>> model = ProTuneResNet(depth=18, base_channels=8)
        >>> [tuple(o.shape) for o in model(torch.rand(1, 3, 32, 32))]
        [(1, 8, 8, 8), (1, 16, 4, 4), (1, 32, 2, 2), (1, 64, 1, 1)]
    """
    default_prompt_type = 'ConvPromptBlock'
    superseded_args = dict(frozen_stages='all stages', norm_eval=True)

    def _stage_channels(self) -> List[int]:
        return [
            self.base_channels * 2**i * self.block.expansion
            for i in range(len(self.res_layers))
        ]

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """(N, 3, H, W) images -> the prompted outputs of ``out_indices``."""
        if self.deep_stem:
            x = self.stem(x)
        else:
            x = self.relu(self.norm1(self.conv1(x)))
        x = self.maxpool(x)
        outs = []
        for i, layer_name in enumerate(self.res_layers):
            x = self._add_prompt(i, getattr(self, layer_name)(x))
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)


@DET_MODELS.register_module()
class ProTuneResNet(PromptedResNetMixin, DetResNet):
    """mmdet's ``ResNet``, frozen, with Pro-tuning prompt blocks.

    Args:
        prompt_cfg (dict, optional): See :class:`PromptedBackboneMixin`.
        **kwargs: Every argument of ``mmdet.models.backbones.ResNet``.
    """


@SEG_MODELS.register_module(name='ProTuneResNet')
class SegProTuneResNet(PromptedResNetMixin, SegResNet):
    """mmseg's ``ResNet``, frozen, with Pro-tuning prompt blocks (registered
    in mmseg as ``ProTuneResNet``).

    Args:
        prompt_cfg (dict, optional): See :class:`PromptedBackboneMixin`.
        **kwargs: Every argument of ``mmseg.models.backbones.ResNet``.
    """


@SEG_MODELS.register_module()
class ProTuneResNetV1c(PromptedResNetMixin, SegResNetV1c):
    """mmseg's ``ResNetV1c``, frozen, with Pro-tuning prompt blocks.

    Args:
        prompt_cfg (dict, optional): See :class:`PromptedBackboneMixin`.
        **kwargs: Every argument of ``mmseg.models.backbones.ResNetV1c``.
    """
