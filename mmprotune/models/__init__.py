from .backbones import (ProTuneResNet, ProTuneResNetV1c,
                        ProTuneSwinTransformer, PromptedResNetMixin,
                        PromptedSwinMixin, SegProTuneResNet,
                        SegProTuneSwinTransformer)
from .prompt_blocks import ConvPromptBlock, TokenPromptBlock
from .prompted import PromptedBackboneMixin

__all__ = [
    'ConvPromptBlock', 'TokenPromptBlock', 'PromptedBackboneMixin',
    'PromptedResNetMixin', 'ProTuneResNet', 'SegProTuneResNet',
    'ProTuneResNetV1c', 'PromptedSwinMixin', 'ProTuneSwinTransformer',
    'SegProTuneSwinTransformer'
]
