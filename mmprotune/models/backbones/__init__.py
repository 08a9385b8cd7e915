from mmprotune.utils.model import missing_scope_error, scope_installed
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
                 'ClsProTuneSwinTransformer', 'ClsProTuneVisionTransformer')

__all__ = [
    'PromptedBackboneMixin', 'PromptedResNetMixin', 'ProTuneResNet',
    'SegProTuneResNet', 'ProTuneResNetV1c', 'ProTuneResNetV1d',
    'SegProTuneResNetV1d', 'PromptedSwinMixin', 'ProTuneSwinTransformer',
    'SegProTuneSwinTransformer'
]

if scope_installed('mmpretrain'):
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
