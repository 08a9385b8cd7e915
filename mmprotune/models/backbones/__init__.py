from mmprotune.utils.model import missing_scope_error, scope_installed
from .mobilenet_v2 import (ProTuneMobileNetV2, PromptedMobileNetV2Mixin,
                           SegProTuneMobileNetV2)
from .prompted import PromptedBackboneMixin
from .resnet import (ProTuneResNet, ProTuneResNetV1c, ProTuneResNetV1d,
                     PromptedResNetMixin, SegProTuneResNet,
                     SegProTuneResNetV1d)
from .swin import (ProTuneSwinTransformer, PromptedSwinMixin,
                   SegProTuneSwinTransformer)

#: The wrappers of mmpretrain's backbones: registered and exported where
#: mmpretrain is installed (it is optional).
CLS_BACKBONES = ('PromptedClsResNetMixin', 'ClsProTuneResNet',
                 'ClsProTuneResNetV1c', 'ClsProTuneResNetV1d',
                 'ClsProTuneSwinTransformer', 'ClsProTuneVisionTransformer',
                 'ClsProTuneMobileNetV2')

__all__ = [
    'PromptedBackboneMixin', 'PromptedResNetMixin', 'ProTuneResNet',
    'SegProTuneResNet', 'ProTuneResNetV1c', 'ProTuneResNetV1d',
    'SegProTuneResNetV1d', 'PromptedSwinMixin', 'ProTuneSwinTransformer',
    'SegProTuneSwinTransformer', 'PromptedMobileNetV2Mixin',
    'ProTuneMobileNetV2', 'SegProTuneMobileNetV2'
]

if scope_installed('mmpretrain'):
    from .cls_mobilenet_v2 import ClsProTuneMobileNetV2
    from .cls_resnet import (ClsProTuneResNet, ClsProTuneResNetV1c,
                             ClsProTuneResNetV1d, PromptedClsResNetMixin)
    from .cls_swin import ClsProTuneSwinTransformer
    from .cls_vit import ClsProTuneVisionTransformer
    __all__ += CLS_BACKBONES
else:

    def __getattr__(name: str):
        if name in CLS_BACKBONES:
            raise missing_scope_error('mmpretrain', name)
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
