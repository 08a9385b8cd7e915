"""Pro-tuning MobileNetV2 for mmpretrain, registered in its ``MODELS``:
imported only where mmpretrain is installed."""
from mmpretrain.models.backbones import MobileNetV2 as ClsMobileNetV2
from mmpretrain.registry import MODELS as CLS_MODELS

from .mobilenet_v2 import PromptedMobileNetV2Mixin


@CLS_MODELS.register_module(name='ProTuneMobileNetV2')
class ClsProTuneMobileNetV2(PromptedMobileNetV2Mixin, ClsMobileNetV2):
    """mmpretrain's ``MobileNetV2`` (mmdet's layout: ``layer1`` ...
    ``layer7`` and ``conv2``, blocks with ``conv.0/1/2`` as mmseg's),
    frozen, with Pro-tuning prompt blocks (registered in mmpretrain as
    ``ProTuneMobileNetV2``).

    Args:
        prompt_cfg (dict, optional): See :class:`PromptedBackboneMixin`.
        **kwargs: Every argument of ``mmpretrain.models.MobileNetV2``.
    """
