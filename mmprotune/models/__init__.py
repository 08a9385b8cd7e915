from .backbones import (ClsProTuneResNet, ClsProTuneResNetV1c,
                        ClsProTuneResNetV1d, ClsProTuneSwinTransformer,
                        ProTuneResNet, ProTuneResNetV1c, ProTuneResNetV1d,
                        ProTuneSwinTransformer, PromptedBackboneMixin,
                        PromptedClsResNetMixin, PromptedResNetMixin,
                        PromptedSwinMixin, SegProTuneResNet,
                        SegProTuneResNetV1d, SegProTuneSwinTransformer)
from .peft import (VPT, AdaptFormer, BitFit, ConvAdapter, ConvPromptBlock,
                   LoRA, Mona, TokenPromptBlock)

__all__ = [
    'ConvPromptBlock', 'TokenPromptBlock', 'PromptedBackboneMixin',
    'PromptedResNetMixin', 'ProTuneResNet', 'SegProTuneResNet',
    'ProTuneResNetV1c', 'ProTuneResNetV1d', 'SegProTuneResNetV1d',
    'PromptedClsResNetMixin', 'ClsProTuneResNet', 'ClsProTuneResNetV1c',
    'ClsProTuneResNetV1d', 'PromptedSwinMixin', 'ProTuneSwinTransformer',
    'SegProTuneSwinTransformer', 'ClsProTuneSwinTransformer', 'BitFit',
    'LoRA', 'AdaptFormer', 'ConvAdapter', 'Mona', 'VPT'
]
