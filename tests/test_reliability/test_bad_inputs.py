"""What a user gets for inputs and configs that cannot work.

Each error must name the offending key or value and what is allowed. The
``prompt_cfg`` field, stage, width and kernel checks and the pretrained
checkpoint checks live in ``tests/test_models``; these are the rest.
"""
import re

import pytest
import torch
import torch.nn as nn
from mmdet.registry import DATASETS as DET_DATASETS
from mmengine.registry import DefaultScope
from mmseg.registry import DATASETS as SEG_DATASETS

from mmprotune.models import (ConvPromptBlock, ProTuneResNet,
                              ProTuneResNetV1c, ProTuneSwinTransformer)
from mmprotune.utils import build_model

RESNET = dict(depth=18, base_channels=8, stem_channels=8)
SWIN = dict(embed_dims=16, depths=(1, 1), num_heads=(1, 2), strides=(4, 2),
            out_indices=(0, 1), window_size=4)
RESNET_D8 = dict(RESNET, strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4))


# (wrapper, kwargs, total stride of its last stage)
STRIDES = {
    'ResNet': (ProTuneResNet, RESNET, 32),
    'ResNetV1c-d8': (ProTuneResNetV1c, RESNET_D8, 8),
    'Swin': (ProTuneSwinTransformer, SWIN, 8),
}


# ---------------------------------------------------------------------------
# images smaller than the backbone's total stride
@pytest.mark.parametrize('case', sorted(STRIDES))
def test_image_smaller_than_total_stride(case):
    wrapper_cls, kwargs, stride = STRIDES[case]
    model = wrapper_cls(**kwargs)
    with pytest.raises(ValueError, match=rf'{wrapper_cls.__name__}: input of '
                       rf'{stride // 2}x{2 * stride} pixels is smaller than '
                       rf'the total stride {stride} of the backbone; the '
                       rf'minimum is {stride}x{stride}'):
        model(torch.rand(1, 3, stride // 2, 2 * stride))


@pytest.mark.parametrize('case', sorted(STRIDES))
def test_image_of_exactly_the_total_stride_is_fine(case):
    wrapper_cls, kwargs, stride = STRIDES[case]
    model = wrapper_cls(**kwargs).eval()
    outs = model(torch.rand(1, 3, stride, stride))
    assert outs[-1].shape[-2:] == (1, 1)


# ---------------------------------------------------------------------------
# frozen from the moment it is built
@pytest.mark.parametrize('wrapper_cls, kwargs', [
    (ProTuneResNet, dict(RESNET, frozen_stages=-1, norm_eval=False)),
    (ProTuneSwinTransformer, dict(SWIN, drop_path_rate=0.5)),
], ids=['ResNet', 'Swin'])
def test_frozen_before_train_is_ever_called(wrapper_cls, kwargs):
    """Upstream modules start in training mode; the wrapper must not wait
    for the Runner's first ``train()`` to put them in eval mode (a model
    built and run by hand would update the pretrained BN statistics), and
    ``frozen_stages=-1``, ``norm_eval=False`` or a drop path rate change
    nothing."""
    model = wrapper_cls(**kwargs)
    assert [n for n, m in model.named_modules()
            if m.training and n and not n.startswith('prompts')] == []
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        first = model(x)
        second = model(x)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    for a, b in zip(first, second):  # no drop path either
        assert torch.equal(a, b)


# ---------------------------------------------------------------------------
# prompt_cfg itself
@pytest.mark.parametrize('prompt_cfg', ['ConvPromptBlock', [('stages', 1)]])
def test_prompt_cfg_must_be_a_dict(prompt_cfg):
    pattern = r'ProTuneResNet: prompt_cfg must be a dict \(or None\), got '
    with pytest.raises(TypeError, match=pattern + re.escape(repr(prompt_cfg))):
        ProTuneResNet(**RESNET, prompt_cfg=prompt_cfg)


@pytest.mark.parametrize('block_type', ['Conv2d', 'GELU', nn.Conv2d, 3])
def test_prompt_type_that_is_no_prompt_block(block_type):
    """``Conv2d``/``GELU`` are registered in mmengine's root MODELS, which
    the prompt block registry falls back to."""
    with pytest.raises(ValueError, match=r'ProTuneResNet: prompt_cfg.type='
                       r'.* is not a registered tuning module; allowed: '
                       r'.*ConvPromptBlock'):
        ProTuneResNet(**RESNET, prompt_cfg=dict(type=block_type))


def test_prompt_type_given_as_a_class():
    """mmengine's pure-Python configs give ``type`` as the class itself."""
    model = ProTuneResNet(**RESNET, prompt_cfg=dict(type=ConvPromptBlock))
    assert all(type(b) is ConvPromptBlock for b in model.prompts.values())


def test_prompt_width_cannot_be_set_apart_from_the_backbone():
    """A block's channels always follow its stage; ``in_channels`` is not a
    ``prompt_cfg`` field."""
    with pytest.raises(ValueError, match=r"unknown prompt_cfg field\(s\) "
                       r"\['in_channels'\]; allowed: \['act_cfg', "
                       r"'hidden_channels', 'hidden_ratio', 'kernel_size', "
                       r"'layer_scale', 'placement', 'prompt_input', "
                       r"'stages', 'type'\]"):
        ProTuneResNet(**RESNET, prompt_cfg=dict(in_channels=64))


def test_unknown_activation_is_named():
    # the registry named is the current default scope's
    with pytest.raises(KeyError, match=r'NoSuchAct is not in the \w+::model '
                       'registry'):
        ProTuneResNet(**RESNET, prompt_cfg=dict(act_cfg=dict(type='NoSuch'
                                                             'Act')))


class HalfChannels(nn.Module):

    def forward(self, x):
        return x[:, :x.shape[1] // 2]


class OneChannel(nn.Module):

    def forward(self, x):
        return x[:, :1]


@pytest.mark.parametrize('block_cls, shape', [
    (HalfChannels, r'\(2, 8, 8, 8\)'),
    (OneChannel, r'\(2, 1, 8, 8\)'),  # would broadcast silently
])
def test_prompt_of_another_shape_than_its_stage(block_cls, shape):
    """A custom block whose prompt does not have its stage's shape (computed
    from the stage output, which a one-channel prompt would broadcast to)."""
    model = ProTuneResNet(**RESNET, prompt_cfg=dict(prompt_input='output'))
    model.prompts['1'] = block_cls()
    with pytest.raises(ValueError, match=rf'ProTuneResNet: the prompt block '
                       rf'of stage 1 \({block_cls.__name__}\) returned shape '
                       rf'{shape} for an input of shape \(2, 16, 8, 8\)'):
        model.train()(torch.rand(2, 3, 64, 64))


# ---------------------------------------------------------------------------
# the model around the backbone
def test_mmseg_only_backbone_in_an_mmdet_config(tiny_cfg, tmp_path):
    cfg = tiny_cfg('mmdet', tmp_path)
    cfg.model.backbone.type = 'ProTuneResNetV1c'
    with pytest.raises(KeyError, match=r"ProTuneResNetV1c is registered "
                       r"for mmseg only.*type='ProTuneResNet', "
                       r'deep_stem=True'):
        build_model(cfg)


def test_neck_channels_that_do_not_fit_the_backbone(tiny_cfg, tmp_path):
    """A ResNet-50 neck on a ResNet-18: torch names both channel counts."""
    cfg = tiny_cfg('mmdet', tmp_path)
    cfg.model.neck.in_channels = [256, 512, 1024, 2048]
    model = build_model(cfg)
    with pytest.raises(RuntimeError, match=r'expected input\[1, 16, 8, 8\] '
                       r'to have 512 channels, but got 16 channels'):
        model.extract_feat(torch.rand(1, 3, 64, 64))


def test_mmseg_pretrained_and_init_cfg_together(tiny_cfg, pretrained,
                                                tmp_path):
    cfg = tiny_cfg('mmseg', tmp_path, checkpoint=pretrained['mmseg'])
    cfg.model.pretrained = pretrained['mmseg']
    with pytest.raises(AssertionError, match='init_cfg and pretrained '
                       'cannot be setting at the same time'):
        build_model(cfg, pretrained=True)


# ---------------------------------------------------------------------------
# data
@pytest.mark.parametrize('scope', ['mmdet', 'mmseg'])
def test_empty_training_set(scope, tiny_cfg, tmp_path):
    """mmdet: class names that are not the annotation file's categories
    (every image is filtered out); mmseg: a wrong ``img_suffix``. Both end in
    mmengine's serialisation of the empty list (see the troubleshooting
    section)."""
    dataset = tiny_cfg(scope, tmp_path).train_dataloader.dataset
    if scope == 'mmdet':
        dataset.metainfo = dict(classes=('Circle', 'Square', 'Triangle'))
    else:
        dataset.img_suffix = '.png'
    registry = DET_DATASETS if scope == 'mmdet' else SEG_DATASETS
    with DefaultScope.overwrite_default_scope(scope):
        with pytest.raises(ValueError, match='need at least one array to '
                           'concatenate'):
            registry.build(dataset)
