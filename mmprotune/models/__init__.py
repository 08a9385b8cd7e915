from .backbones import (ProTuneResNet, ProTuneResNetV1c,
                        ProTuneSwinTransformer, PromptedBackboneMixin,
                        PromptedResNetMixin, PromptedSwinMixin,
                        SegProTuneResNet, SegProTuneSwinTransformer)
from .peft import (VPT, AdaptFormer, BitFit, ConvAdapter, ConvPromptBlock,
                   LoRA, Mona, TokenPromptBlock)

__all__ = [
    'ConvPromptBlock', 'TokenPromptBlock', 'PromptedBackboneMixin',
    'PromptedResNetMixin', 'ProTuneResNet', 'SegProTuneResNet',
    'ProTuneResNetV1c', 'PromptedSwinMixin', 'ProTuneSwinTransformer',
    'SegProTuneSwinTransformer', 'BitFit', 'LoRA', 'AdaptFormer',
    'ConvAdapter', 'Mona', 'VPT'
]
