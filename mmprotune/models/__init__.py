from .backbones import (ProTuneResNet, ProTuneResNetV1c,
                        ProTuneSwinTransformer, PromptedResNetMixin,
                        PromptedSwinMixin, SegProTuneResNet,
                        SegProTuneSwinTransformer)
from .peft_blocks import VPT, AdaptFormer, BitFit, ConvAdapter, LoRA, Mona
from .prompt_blocks import ConvPromptBlock, TokenPromptBlock
from .prompted import PromptedBackboneMixin

__all__ = [
    'ConvPromptBlock', 'TokenPromptBlock', 'PromptedBackboneMixin',
    'PromptedResNetMixin', 'ProTuneResNet', 'SegProTuneResNet',
    'ProTuneResNetV1c', 'PromptedSwinMixin', 'ProTuneSwinTransformer',
    'SegProTuneSwinTransformer', 'BitFit', 'LoRA', 'AdaptFormer',
    'ConvAdapter', 'Mona', 'VPT'
]
