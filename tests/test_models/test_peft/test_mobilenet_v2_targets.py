"""What each hooked method targets in MobileNetV2 (mmdet's layout, mmseg's
and mmpretrain's): the expected layers are found from the upstream model's
own layout and ``arch_settings``, not by the methods' predicates."""
import pytest
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmprotune.testing.peft_cases import (MOBILENETV2_ALLOWED, WRAPPERS,
                                          assert_refused)

CASES = [c for c, (*_, family) in WRAPPERS.items() if family == 'mobilenetv2']


def _pair(case, prompt_cfg):
    """The upstream backbone and its wrapper with every stage tuned (mmseg's
    and mmdet's with all stages as outputs)."""
    wrapper_cls, upstream_cls, kwargs, _ = WRAPPERS[case]
    upstream = upstream_cls(**kwargs)
    if not case.startswith('mmpretrain'):
        kwargs = dict(kwargs, out_indices=tuple(range(len(upstream.layers))))
    return upstream, wrapper_cls(**kwargs, prompt_cfg=prompt_cfg)


def _hooked(wrapped):
    """Names of the upstream modules that carry a forward hook."""
    return sorted(n for n, m in wrapped.named_modules()
                  if n and not n.startswith('prompts') and m._forward_hooks)


def _blocks(upstream):
    """Name -> inverted residual block of every stage, and ``conv2``."""
    blocks = {}
    for name in upstream.layers:
        stage = getattr(upstream, name)
        if isinstance(stage, nn.Sequential):
            blocks.update({f'{name}.{j}': b for j, b in enumerate(stage)})
        else:
            blocks[name] = stage
    return blocks


def _expansion_and_projection(name, block):
    """Names of the block's dense 1x1 convs: its expansion (none where the
    expand ratio is 1) and its projection; ``conv2``'s conv."""
    if isinstance(getattr(block, 'conv', None), nn.Conv2d):
        return [f'{name}.conv']  # conv2, a ConvModule
    if hasattr(block, 'linear_conv'):  # mmdet
        inner = ['linear_conv'] if not hasattr(block, 'expand_conv') else [
            'expand_conv', 'linear_conv'
        ]
    else:  # mmseg, mmpretrain: conv = (expansion,) depth-wise, projection
        last = len(block.conv) - 1
        inner = [f'conv.{last}'] if last == 1 else ['conv.0', f'conv.{last}']
    return [f'{name}.{n}.conv' for n in inner]


@pytest.mark.parametrize('case', CASES)
def test_bitfit_hooks_every_bn(case):
    upstream, wrapped = _pair(case, dict(type='BitFit'))
    stages = tuple(f'{n}.' for n in upstream.layers)
    expected = [n for n, m in upstream.named_modules()
                if isinstance(m, _BatchNorm) and n.startswith(stages)]
    assert _hooked(wrapped) == sorted(expected)
    # expansion, depth-wise and projection BNs; two in layer1, one in conv2
    num_blocks = sum(s[2] for s in upstream.arch_settings)
    assert len(expected) == 3 * num_blocks - 1 + hasattr(upstream, 'conv2')


@pytest.mark.parametrize('case', CASES)
def test_lora_hooks_the_1x1_convs(case):
    upstream, wrapped = _pair(case, dict(type='LoRA'))
    expected = [
        target for name, block in _blocks(upstream).items()
        for target in _expansion_and_projection(name, block)
    ]
    assert _hooked(wrapped) == sorted(expected)
    # (expand ratio, channels, blocks[, stride]) per layer: no expansion at
    # ratio 1
    assert len(expected) == sum(s[2] * (1 if s[0] == 1 else 2)
                                for s in upstream.arch_settings) + \
        hasattr(upstream, 'conv2')


@pytest.mark.parametrize('method', ['ConvAdapter', 'Mona'])
@pytest.mark.parametrize('case', CASES)
def test_adapters_hook_every_block(case, method):
    upstream, wrapped = _pair(case, dict(type=method))
    blocks = _blocks(upstream)
    assert _hooked(wrapped) == sorted(blocks)
    if 'conv2' in blocks:  # conv2 is a stage: its layer's key is 'stage'
        assert list(wrapped.prompts['7'].layers) == ['stage']


def test_conv_adapter_follows_stride_and_dilation():
    """In the dilated mmseg case each adapter's ``down`` has the stride and
    dilation of its block's depth-wise conv (``conv[-2]``), so it sees the
    same receptive field."""
    upstream, wrapped = _pair('mmseg-MobileNetV2', dict(type='ConvAdapter'))
    dilated = 0
    for i, name in enumerate(upstream.layers):
        for j, block in enumerate(getattr(upstream, name)):
            depthwise = block.conv[-2].conv
            down = wrapped.prompts[str(i)].layers[str(j)].down
            assert (down.stride, down.dilation) == (depthwise.stride,
                                                    depthwise.dilation)
            dilated += depthwise.dilation[0] > 1
    assert dilated


@pytest.mark.parametrize('prompt_cfg, pattern', [
    (dict(type='LoRA', targets=['conv3x3']),
     r"prompt_cfg.targets must be a non-empty list of \['conv1x1'\] for a "
     r'mobilenetv2 backbone'),
    (dict(type='ConvAdapter', reduction=3),
     r"prompt_cfg.reduction must be an int > 0 that divides the blocks' "
     r'input channels \[8\]'),
    (dict(type='AdaptFormer'),
     r"prompt_cfg.type='AdaptFormer' applies to \['swin'\] backbones, not to "
     r"'mobilenetv2'; allowed: " + MOBILENETV2_ALLOWED),
])
def test_bad_prompt_cfg(prompt_cfg, pattern):
    assert_refused('mobilenetv2', prompt_cfg, pattern)
