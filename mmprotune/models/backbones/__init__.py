from .prompted import PromptedBackboneMixin
from .resnet import (ProTuneResNet, ProTuneResNetV1c, PromptedResNetMixin,
                     SegProTuneResNet)
from .swin import (ProTuneSwinTransformer, PromptedSwinMixin,
                   SegProTuneSwinTransformer)

__all__ = [
    'PromptedBackboneMixin', 'PromptedResNetMixin', 'ProTuneResNet',
    'SegProTuneResNet', 'ProTuneResNetV1c', 'PromptedSwinMixin',
    'ProTuneSwinTransformer', 'SegProTuneSwinTransformer'
]
