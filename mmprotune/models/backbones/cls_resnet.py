"""Pro-tuning ResNets for mmpretrain, registered in its ``MODELS``: imported
only where mmpretrain is installed."""
from typing import List

from mmpretrain.models.backbones import ResNet as ClsResNet
from mmpretrain.models.backbones import ResNetV1c as ClsResNetV1c
from mmpretrain.models.backbones import ResNetV1d as ClsResNetV1d
from mmpretrain.registry import MODELS as CLS_MODELS

from .resnet import PromptedResNetMixin


class PromptedClsResNetMixin(PromptedResNetMixin):
    """What mmpretrain's ResNets do differently from mmdet's and mmseg's:
    the block expansion is an argument (``self.expansion``, the blocks have
    no class attribute), and blocks have stochastic depth
    (``drop_path_rate``), which the frozen eval-mode blocks never apply.

    Their ``forward`` (stem, ``layer{i}``, a tuple of the ``out_indices``
    maps) and blocks (conv/BN/ReLU, a ``downsample`` of optional
    ``AvgPool2d``, conv and BN) are the mmdet layout, so the prompts and the
    frozen-aware backward are :class:`PromptedResNetMixin`'s.
    """
    superseded_args = dict(
        PromptedResNetMixin.superseded_args, drop_path_rate=0.0)

    def stage_channels(self) -> List[int]:
        return [
            self.base_channels * 2**i * self.expansion
            for i in range(len(self.res_layers))
        ]


@CLS_MODELS.register_module(name='ProTuneResNet')
class ClsProTuneResNet(PromptedClsResNetMixin, ClsResNet):
    """mmpretrain's ``ResNet``, frozen, with Pro-tuning prompt blocks
    (registered in mmpretrain as ``ProTuneResNet``).

    Args:
        prompt_cfg (dict, optional): See :class:`PromptedBackboneMixin`.
        **kwargs: Every argument of ``mmpretrain.models.ResNet``.
    """


@CLS_MODELS.register_module(name='ProTuneResNetV1c')
class ClsProTuneResNetV1c(PromptedClsResNetMixin, ClsResNetV1c):
    """mmpretrain's ``ResNetV1c``, frozen, with Pro-tuning prompt blocks
    (registered in mmpretrain as ``ProTuneResNetV1c``).

    Args:
        prompt_cfg (dict, optional): See :class:`PromptedBackboneMixin`.
        **kwargs: Every argument of ``mmpretrain.models.ResNetV1c``.
    """


@CLS_MODELS.register_module(name='ProTuneResNetV1d')
class ClsProTuneResNetV1d(PromptedClsResNetMixin, ClsResNetV1d):
    """mmpretrain's ``ResNetV1d``, frozen, with Pro-tuning prompt blocks
    (registered in mmpretrain as ``ProTuneResNetV1d``).

    Args:
        prompt_cfg (dict, optional): See :class:`PromptedBackboneMixin`.
        **kwargs: Every argument of ``mmpretrain.models.ResNetV1d``.
    """
