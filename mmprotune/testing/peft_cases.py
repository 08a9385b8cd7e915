"""The tuning modules of the PEFT tests, the tiny wrappers they run in and
the helpers that build, perturb and run them (the tests' ``checkpoints``
fixture saves each upstream backbone of :data:`WRAPPERS`)."""
import torch
from mmdet.models.backbones import MobileNetV2 as DetMobileNetV2
from mmdet.models.backbones import ResNet as DetResNet
from mmdet.models.backbones import SwinTransformer as DetSwin
from mmengine.config import ConfigDict
from mmpretrain.models.backbones import MobileNetV2 as ClsMobileNetV2
from mmpretrain.models.backbones import ResNetV1d as ClsResNetV1d
from mmpretrain.models.backbones import SwinTransformer as ClsSwin
from mmseg.models.backbones import MobileNetV2 as SegMobileNetV2
from mmseg.models.backbones import ResNetV1c as SegResNetV1c
from mmseg.models.backbones import SwinTransformer as SegSwin

from mmprotune.models import (ClsProTuneMobileNetV2, ClsProTuneResNetV1d,
                              ClsProTuneSwinTransformer, ProTuneMobileNetV2,
                              ProTuneResNet, ProTuneResNetV1c,
                              ProTuneSwinTransformer, SegProTuneMobileNetV2,
                              SegProTuneSwinTransformer)

RESNET = dict(depth=18, base_channels=8, stem_channels=8)
SWIN = dict(
    embed_dims=16,
    depths=(2, 1),
    num_heads=(1, 2),
    strides=(4, 2),
    out_indices=(0, 1),
    window_size=4,
    pretrain_img_size=32)
#: the same Swin in mmpretrain's arguments
CLS_SWIN = dict(
    arch=dict(embed_dims=16, depths=(2, 1), num_heads=(1, 2)),
    out_indices=(0, 1),
    window_size=4,
    img_size=32)
#: a quarter-width MobileNetV2: stages of 8, 8, 8, 16, 24, 40, 80 channels
#: (and 1280 in ``conv2``, mmdet's and mmpretrain's eighth stage)
MOBILENET_V2 = dict(widen_factor=0.25)
IMG = 32

# case -> (wrapper, upstream class, upstream kwargs, family)
WRAPPERS = {
    'mmdet-ResNet': (ProTuneResNet, DetResNet,
                     dict(RESNET, frozen_stages=1, norm_eval=True),
                     'resnet'),
    'mmseg-ResNetV1c': (ProTuneResNetV1c, SegResNetV1c,
                        dict(RESNET, dilations=(1, 1, 2, 4),
                             strides=(1, 2, 1, 1), norm_eval=False),
                        'resnet'),
    'mmdet-Swin': (ProTuneSwinTransformer, DetSwin, SWIN, 'swin'),
    'mmseg-Swin': (SegProTuneSwinTransformer, SegSwin, SWIN, 'swin'),
    # a classifier's backbone: the last stage's output only
    'mmpretrain-ResNetV1d': (ClsProTuneResNetV1d, ClsResNetV1d, RESNET,
                             'resnet'),
    'mmpretrain-Swin': (ClsProTuneSwinTransformer, ClsSwin, CLS_SWIN, 'swin'),
    'mmdet-MobileNetV2': (ProTuneMobileNetV2, DetMobileNetV2,
                          dict(MOBILENET_V2, out_indices=(1, 2, 4, 7)),
                          'mobilenetv2'),
    # as mmseg's MobileNetV2 configs: dilated to stride 8
    'mmseg-MobileNetV2': (SegProTuneMobileNetV2, SegMobileNetV2,
                          dict(MOBILENET_V2, strides=(1, 2, 2, 1, 1, 1, 1),
                               dilations=(1, 1, 1, 2, 2, 4, 4),
                               out_indices=(1, 2, 4, 6)), 'mobilenetv2'),
    # ``conv2``'s output only
    'mmpretrain-MobileNetV2': (ClsProTuneMobileNetV2, ClsMobileNetV2,
                               MOBILENET_V2, 'mobilenetv2'),
}
RANK, HIDDEN, REDUCTION, TOKENS = 2, 4, 2, 3
METHODS = {
    'protune': dict(hidden_channels=HIDDEN),  # the family's prompt block
    'BitFit': dict(type='BitFit'),
    'LoRA-resnet': dict(type='LoRA', rank=RANK, alpha=4,
                        targets=['conv1x1', 'conv3x3']),
    'LoRA-swin': dict(type='LoRA', rank=RANK, alpha=4),
    'LoRA-mobilenetv2': dict(type='LoRA', rank=RANK, alpha=4),
    'AdaptFormer': dict(type='AdaptFormer', hidden_channels=HIDDEN,
                        scale=0.5),
    'ConvAdapter': dict(type='ConvAdapter', reduction=REDUCTION),
    'Mona': dict(type='Mona', hidden_channels=HIDDEN),
    'VPT': dict(type='VPT', num_tokens=TOKENS),
}
#: the methods of each wrapper family (keys of :data:`METHODS`)
FAMILY_METHODS = dict(
    resnet=['protune', 'BitFit', 'LoRA-resnet', 'ConvAdapter', 'Mona'],
    swin=['protune', 'BitFit', 'LoRA-swin', 'AdaptFormer', 'Mona', 'VPT'],
    mobilenetv2=[
        'protune', 'BitFit', 'LoRA-mobilenetv2', 'ConvAdapter', 'Mona'
    ])
#: (wrapper case, method) of every method in every wrapper of its family
CASES = [(w, m) for w, (*_, family) in WRAPPERS.items()
         for m in FAMILY_METHODS[family]]
#: the hooked methods' cases, for the tests of their hooks
HOOKED_CASES = [c for c in CASES if c[1] != 'protune']
RESNET_ALLOWED = r"\['BitFit', 'ConvAdapter', 'ConvPromptBlock', 'LoRA', " \
    r"'Mona'\]"
SWIN_ALLOWED = r"\['AdaptFormer', 'BitFit', 'LoRA', 'Mona', " \
    r"'TokenPromptBlock', 'VPT'\]"
MOBILENETV2_ALLOWED = RESNET_ALLOWED


def build_pair(case, checkpoints, prompt_cfg, **wrapper_kwargs):
    """The upstream backbone and its tuned wrapper, both loaded from the same
    checkpoint."""
    wrapper_cls, upstream_cls, kwargs, _ = WRAPPERS[case]
    init_cfg = dict(type='Pretrained', checkpoint=checkpoints[case],
                    prefix='backbone.')
    upstream = upstream_cls(**kwargs, init_cfg=ConfigDict(init_cfg))
    upstream.init_weights()
    wrapped = wrapper_cls(**kwargs, init_cfg=init_cfg, prompt_cfg=prompt_cfg,
                          **wrapper_kwargs)
    wrapped.init_weights()
    upstream.eval()  # mmdet's ResNet.train() returns None
    return upstream, wrapped


def assert_refused(family, prompt_cfg, pattern):
    """Building a wrapper of ``family`` with ``prompt_cfg`` raises a
    ``ValueError`` that matches ``pattern``."""
    import pytest
    case = dict(
        resnet='mmdet-ResNet',
        swin='mmseg-Swin',
        mobilenetv2='mmseg-MobileNetV2')[family]
    wrapper_cls, _, kwargs, _ = WRAPPERS[case]
    with pytest.raises(ValueError, match=pattern):
        wrapper_cls(**kwargs, prompt_cfg=prompt_cfg)


def perturb(model):
    """Non-zero values for every method parameter (the zero-init up
    projections included), so that each one changes the output."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for param in model.prompts.parameters():
            param.copy_(0.1 * torch.randn(param.shape, generator=generator))


def forward_all(model, x):
    """All outputs of ``model(x)`` flattened into one tensor."""
    return torch.cat([o.flatten() for o in model(x)])


def perturbed_run(case, checkpoints, prompt_cfg, check=None,
                  **wrapper_kwargs):
    """Output and method gradients of the perturbed backbone on a fixed
    input; ``check(wrapped)`` runs first."""
    _, wrapped = build_pair(case, checkpoints, prompt_cfg, **wrapper_kwargs)
    if check is not None:
        check(wrapped)
    perturb(wrapped)
    wrapped.train()
    out = forward_all(wrapped, torch.randn(
        2, 3, IMG, IMG, generator=torch.Generator().manual_seed(0)))
    out.square().sum().backward()
    return out.detach(), [p.grad for p in wrapped.prompts.parameters()]
