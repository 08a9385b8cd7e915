from mmprotune.utils.model import scope_installed
from . import backbones
from .backbones import (ProTuneMobileNetV2, ProTuneResNet, ProTuneResNetV1c,
                        ProTuneResNetV1d, ProTuneSwinTransformer,
                        PromptedBackboneMixin, PromptedMobileNetV2Mixin,
                        PromptedResNetMixin, PromptedSwinMixin,
                        SegProTuneMobileNetV2, SegProTuneResNet,
                        SegProTuneResNetV1d, SegProTuneSwinTransformer)
from .peft import (VPT, AdaptFormer, BitFit, ConvAdapter, ConvPromptBlock,
                   LoRA, Mona, TokenPromptBlock)

__all__ = [
    'ConvPromptBlock', 'TokenPromptBlock', 'PromptedBackboneMixin',
    'PromptedResNetMixin', 'ProTuneResNet', 'SegProTuneResNet',
    'ProTuneResNetV1c', 'ProTuneResNetV1d', 'SegProTuneResNetV1d',
    'PromptedSwinMixin', 'ProTuneSwinTransformer',
    'SegProTuneSwinTransformer', 'PromptedMobileNetV2Mixin',
    'ProTuneMobileNetV2', 'SegProTuneMobileNetV2', 'BitFit', 'LoRA',
    'AdaptFormer', 'ConvAdapter', 'Mona', 'VPT'
]
if scope_installed('mmpretrain'):
    __all__ += backbones.CLS_BACKBONES


def __getattr__(name: str):
    """mmpretrain's wrappers, or a clear error where it is not installed."""
    if name in backbones.CLS_BACKBONES:
        return getattr(backbones, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
