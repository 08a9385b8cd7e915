"""Every ProTune* wrapper: registration, zero-init equivalence, freezing,
pretrained loading and the errors of a wrong ``prompt_cfg``/checkpoint."""
import pytest
import torch
from mmdet.models.backbones import MobileNetV2 as DetMobileNetV2
from mmdet.models.backbones import ResNet as DetResNet
from mmdet.models.backbones import SwinTransformer as DetSwin
from mmdet.registry import MODELS as DET_MODELS
from mmengine.config import ConfigDict
from mmengine.logging import MMLogger
from mmpretrain.models.backbones import MobileNetV2 as ClsMobileNetV2
from mmpretrain.models.backbones import ResNet as ClsResNet
from mmpretrain.models.backbones import ResNetV1c as ClsResNetV1c
from mmpretrain.models.backbones import ResNetV1d as ClsResNetV1d
from mmpretrain.models.backbones import SwinTransformer as ClsSwin
from mmpretrain.models.backbones import VisionTransformer as ClsViT
from mmpretrain.registry import MODELS as CLS_MODELS
from mmseg.models.backbones import MobileNetV2 as SegMobileNetV2
from mmseg.models.backbones import ResNet as SegResNet
from mmseg.models.backbones import ResNetV1c as SegResNetV1c
from mmseg.models.backbones import ResNetV1d as SegResNetV1d
from mmseg.models.backbones import SwinTransformer as SegSwin
from mmseg.registry import MODELS as SEG_MODELS
from torch.nn.modules.batchnorm import _BatchNorm

from mmprotune.models import (ClsProTuneMobileNetV2, ClsProTuneResNet,
                              ClsProTuneResNetV1c, ClsProTuneResNetV1d,
                              ClsProTuneSwinTransformer,
                              ClsProTuneVisionTransformer, ProTuneMobileNetV2,
                              ProTuneResNet, ProTuneResNetV1c,
                              ProTuneSwinTransformer, SegProTuneMobileNetV2,
                              SegProTuneResNet, SegProTuneResNetV1d,
                              SegProTuneSwinTransformer)
from mmprotune.testing import write_pretrained_checkpoint

RESNET = dict(depth=18, base_channels=8, stem_channels=8)
SWIN = dict(
    embed_dims=16,
    depths=(2, 1, 1, 1),
    num_heads=(1, 2, 2, 4),
    window_size=4,
    pretrain_img_size=64,
    drop_path_rate=0.3)
#: a ViT on a 4x4 patch grid
VIT_ARCH = dict(embed_dims=16, num_heads=2, feedforward_channels=32)
VIT = dict(img_size=64, patch_size=16, drop_path_rate=0.3)
#: mmpretrain's Swin takes the widths as ``arch``; its image size is
#: ``img_size``; a window larger than the last stage's 2x2 map is refused
#: (unless ``pad_small_map=True``)
CLS_SWIN = dict(
    arch=dict(embed_dims=16, depths=(2, 1, 1, 1), num_heads=(1, 2, 2, 4)),
    window_size=2,
    img_size=64,
    drop_path_rate=0.3)
#: a quarter-width MobileNetV2 (8 to 80 channels, 1280 in ``conv2``)
MOBILENET_V2 = dict(widen_factor=0.25)

# (registry, registered name, wrapper, upstream class, upstream kwargs)
CASES = {
    'mmdet-ResNet': (DET_MODELS, 'ProTuneResNet', ProTuneResNet, DetResNet,
                     dict(RESNET, frozen_stages=1, norm_eval=True)),
    'mmseg-ResNet': (SEG_MODELS, 'ProTuneResNet', SegProTuneResNet,
                     SegResNet, dict(RESNET, norm_eval=False)),
    'mmseg-ResNetV1c': (SEG_MODELS, 'ProTuneResNetV1c', ProTuneResNetV1c,
                        SegResNetV1c, dict(RESNET, norm_eval=False)),
    'mmdet-Swin': (DET_MODELS, 'ProTuneSwinTransformer',
                   ProTuneSwinTransformer, DetSwin,
                   dict(SWIN, frozen_stages=1)),
    'mmseg-Swin': (SEG_MODELS, 'ProTuneSwinTransformer',
                   SegProTuneSwinTransformer, SegSwin, SWIN),
    'mmseg-ResNetV1d': (SEG_MODELS, 'ProTuneResNetV1d', SegProTuneResNetV1d,
                        SegResNetV1d, RESNET),
    # mmpretrain: the classification default (the last stage only) and
    # every stage; stochastic depth in the blocks
    'mmpretrain-ResNet': (CLS_MODELS, 'ProTuneResNet', ClsProTuneResNet,
                          ClsResNet, dict(RESNET, drop_path_rate=0.1)),
    'mmpretrain-ResNetV1c': (CLS_MODELS, 'ProTuneResNetV1c',
                             ClsProTuneResNetV1c, ClsResNetV1c,
                             dict(RESNET, out_indices=(0, 1, 2, 3),
                                  frozen_stages=1, norm_eval=True)),
    'mmpretrain-ResNetV1d': (CLS_MODELS, 'ProTuneResNetV1d',
                             ClsProTuneResNetV1d, ClsResNetV1d,
                             dict(RESNET, out_indices=(1, 3),
                                  drop_path_rate=0.1)),
    'mmpretrain-Swin': (CLS_MODELS, 'ProTuneSwinTransformer',
                        ClsProTuneSwinTransformer, ClsSwin,
                        dict(CLS_SWIN, use_abs_pos_embed=True)),
    # stage outputs after the patch merging, a norm for each (new layers
    # but for the last stage's)
    'mmpretrain-Swin-out-after-downsample': (
        CLS_MODELS, 'ProTuneSwinTransformer', ClsProTuneSwinTransformer,
        ClsSwin, dict(CLS_SWIN, out_indices=(0, 1, 2, 3),
                      out_after_downsample=True, frozen_stages=1)),
    # the class token of the last layer: its 5th layer gets no prompt
    'mmpretrain-ViT': (CLS_MODELS, 'ProTuneVisionTransformer',
                       ClsProTuneVisionTransformer, ClsViT,
                       dict(VIT, arch=dict(VIT_ARCH, num_layers=5))),
    'mmpretrain-ViT-avg-featmap': (
        CLS_MODELS, 'ProTuneVisionTransformer', ClsProTuneVisionTransformer,
        ClsViT, dict(VIT, arch=dict(VIT_ARCH, num_layers=4),
                     out_indices=[1, 3], out_type='avg_featmap')),
    # mmdet's and mmpretrain's layers 1-7 and ``conv2``, 8 stages
    'mmdet-MobileNetV2': (DET_MODELS, 'ProTuneMobileNetV2',
                          ProTuneMobileNetV2, DetMobileNetV2,
                          dict(MOBILENET_V2, frozen_stages=1,
                               norm_eval=True)),
    'mmpretrain-MobileNetV2': (CLS_MODELS, 'ProTuneMobileNetV2',
                               ClsProTuneMobileNetV2, ClsMobileNetV2,
                               MOBILENET_V2),
    # mmseg's 7 layers, dilated as in its DeepLabV3+ configs (stride 8)
    'mmseg-MobileNetV2-dilated': (
        SEG_MODELS, 'ProTuneMobileNetV2', SegProTuneMobileNetV2,
        SegMobileNetV2, dict(MOBILENET_V2, strides=(1, 2, 2, 1, 1, 1, 1),
                             dilations=(1, 1, 1, 2, 2, 4, 4),
                             out_indices=(1, 2, 4, 6))),
    # a lone output: mmseg returns the tensor itself
    'mmseg-MobileNetV2-one-output': (
        SEG_MODELS, 'ProTuneMobileNetV2', SegProTuneMobileNetV2,
        SegMobileNetV2, dict(MOBILENET_V2, out_indices=(3, ),
                             norm_eval=True)),
}
#: The tuned stages by default (every stage up to the last ``out_indices``
#: one) where they are not 4.
TUNED_STAGES = {
    'mmdet-MobileNetV2': 8,
    'mmpretrain-MobileNetV2': 8,
    'mmseg-MobileNetV2-dilated': 7,
}


#: ``prompt_cfg`` variants: the family's default (ResNet, Swin: a prompt at
#: each stage end, from the stage input; ViT: from its output) and the
#: others (ResNet and Swin wrappers only)
VARIANTS = {
    'default': None,
    'block': dict(placement='block'),
    'output': dict(prompt_input='output'),
    'block-output': dict(placement='block', prompt_input='output'),
}


def build_pair(case, checkpoint, prompt_cfg=None):
    """The upstream backbone and its wrapper, both loaded from
    ``checkpoint``; a ``prompt_cfg`` variant of the ResNet and Swin
    wrappers skips the test of a ViT one."""
    if prompt_cfg and 'ViT' in case:
        pytest.skip('ViT wrappers take their default variant only (refusing '
                    'the others: test_prompted.py)')
    _, _, wrapper_cls, upstream_cls, kwargs = CASES[case]
    init_cfg = dict(type='Pretrained', checkpoint=checkpoint)
    if upstream_cls not in (DetSwin, SegSwin):  # they strip it themselves
        init_cfg['prefix'] = 'backbone.'
    # upstream mmdet Swin needs a ConfigDict (what a config file gives)
    upstream = upstream_cls(**kwargs, init_cfg=ConfigDict(init_cfg))
    upstream.init_weights()
    wrapped = wrapper_cls(
        **kwargs, init_cfg=dict(init_cfg), prompt_cfg=prompt_cfg)
    wrapped.init_weights()
    return upstream, wrapped


@pytest.fixture(scope='module', params=sorted(CASES))
def case_and_checkpoint(request, tmp_path_factory):
    _, _, _, upstream_cls, kwargs = CASES[request.param]
    path = tmp_path_factory.mktemp('ckpt') / 'pretrained.pth'
    write_pretrained_checkpoint(upstream_cls(**kwargs), path,
                                prefix='backbone.')
    return request.param, str(path)


def test_registered_in_its_scope(case_and_checkpoint):
    registry, name, wrapper_cls, upstream_cls, _ = CASES[
        case_and_checkpoint[0]]
    assert registry.get(name) is wrapper_cls
    assert issubclass(wrapper_cls, upstream_cls)


@pytest.mark.parametrize('variant', sorted(VARIANTS))
@pytest.mark.parametrize('mode', [True, False])
def test_step0_outputs_equal_pretrained(case_and_checkpoint, mode, variant):
    upstream, wrapped = build_pair(*case_and_checkpoint, VARIANTS[variant])
    upstream_state = upstream.state_dict()
    for key, value in wrapped.state_dict().items():
        if not key.startswith('prompts.'):
            assert torch.equal(value, upstream_state[key]), key
    upstream.eval()
    wrapped.train(mode)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected, outs = upstream(x), wrapped(x)
    # a tuple where upstream gives one (mmpretrain's necks need it)
    assert type(outs) is type(expected) and len(outs) == len(expected)
    for out, ref in zip(outs, expected):
        assert torch.equal(out, ref)


def test_only_prompts_train_and_frozen_stays_eval(case_and_checkpoint):
    _, wrapped = build_pair(*case_and_checkpoint)
    wrapped.train()
    for name, param in wrapped.named_parameters():
        assert param.requires_grad == name.startswith('prompts.'), name
    for name, module in wrapped.named_modules():
        expected_training = name.startswith('prompts')
        assert module.training == expected_training or name == '', name
    assert wrapped.training
    assert len(wrapped.prompts) == TUNED_STAGES.get(
        case_and_checkpoint[0], 4)


@pytest.mark.parametrize('variant', sorted(VARIANTS))
def test_gradients_reach_every_prompt(case_and_checkpoint, variant):
    _, wrapped = build_pair(*case_and_checkpoint, VARIANTS[variant])
    wrapped.train()
    # make every prompt non-zero so gradients pass through all of them
    for _, block in wrapped.tuning_modules():
        torch.nn.init.normal_(block.up.weight, std=0.02)
    sum(out.sum() for out in wrapped(torch.randn(1, 3, 64, 64))).backward()
    for name, param in wrapped.named_parameters():
        if param.requires_grad:
            assert param.grad is not None and param.grad.abs().sum() > 0, \
                name
        else:
            assert param.grad is None, name


def test_bn_statistics_untouched_by_training_forward(case_and_checkpoint):
    _, wrapped = build_pair(*case_and_checkpoint)
    before = {k: v.clone() for k, v in wrapped.state_dict().items()}
    wrapped.train()
    wrapped(torch.randn(2, 3, 64, 64))
    for key, value in wrapped.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert all(not m.training for m in wrapped.modules()
               if isinstance(m, _BatchNorm))


def fresh_logger(name):
    """A new current MMLogger, whose handler writes to the captured stdout."""
    return MMLogger.get_instance(f'{name}-{id(object())}', log_level='INFO')


@pytest.mark.parametrize('wrapper_cls', [ProTuneResNet, ProTuneResNetV1c])
def test_resnet50_default_prompts_train_under_3_percent(wrapper_cls, capsys):
    fresh_logger('count')
    model = wrapper_cls(depth=50)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.prompts.parameters())
    assert trainable == sum(p.numel() for p in model.parameters()
                            if p.requires_grad)
    assert 0 < trainable <= 0.03 * total
    out = capsys.readouterr().out
    assert f'{trainable:,} trainable (ConvPromptBlock) of {total:,}' in out
    assert f'({100 * trainable / total:.2f}%)' in out


def test_superseded_upstream_settings_are_logged_once(capsys):
    fresh_logger('overrides')
    model = ProTuneResNetV1c(**RESNET, frozen_stages=1, norm_eval=False)
    model.train()
    out = capsys.readouterr().out
    assert out.count('superseding') == 1
    assert 'frozen_stages=1 -> all stages' in out
    assert 'norm_eval=False -> True' in out
    assert all(not p.requires_grad for n, p in model.named_parameters()
               if not n.startswith('prompts.'))
