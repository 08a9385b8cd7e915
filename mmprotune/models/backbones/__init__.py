from .prompted import PromptedBackboneMixin
from .resnet import (ClsProTuneResNet, ClsProTuneResNetV1c,
                     ClsProTuneResNetV1d, ProTuneResNet, ProTuneResNetV1c,
                     ProTuneResNetV1d, PromptedClsResNetMixin,
                     PromptedResNetMixin, SegProTuneResNet,
                     SegProTuneResNetV1d)
from .swin import (ClsProTuneSwinTransformer, ProTuneSwinTransformer,
                   PromptedSwinMixin, SegProTuneSwinTransformer)

__all__ = [
    'PromptedBackboneMixin', 'PromptedResNetMixin', 'ProTuneResNet',
    'SegProTuneResNet', 'ProTuneResNetV1c', 'ProTuneResNetV1d',
    'SegProTuneResNetV1d', 'PromptedClsResNetMixin', 'ClsProTuneResNet',
    'ClsProTuneResNetV1c', 'ClsProTuneResNetV1d', 'PromptedSwinMixin',
    'ProTuneSwinTransformer', 'SegProTuneSwinTransformer',
    'ClsProTuneSwinTransformer'
]
