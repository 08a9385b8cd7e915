"""The contract every tuning module (Pro-tuning's prompt blocks and each
PEFT baseline) fulfils in every ProTune* wrapper: step-0 equivalence, only its
parameters train, gradients reach all of them, hooks on ResNet's fast path and
in Swin's checkpointed blocks, deepcopy, delta checkpoints, stage selection;
and each one appears once in the method table and in docs/peft_methods.md."""
import copy
import re
from collections import Counter
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmprotune.analysis.methods import REPORT_METHODS, peft_methods
from mmprotune.engine.delta import frozen_backbone_sha256, split_delta
from mmprotune.models import (ProTuneResNet, ProTuneSwinTransformer,
                              SegProTuneMobileNetV2)
from mmprotune.models.peft import HookedMethod, StageBlock, TuningModule
from mmprotune.registry import MODELS
from mmprotune.testing.peft_cases import (CASES, HIDDEN, HOOKED_CASES,
                                          IMG, METHODS, RANK,
                                          REDUCTION, TOKENS, WRAPPERS,
                                          build_pair, forward_all, perturb,
                                          perturbed_run)

DOCS = Path(__file__).resolve().parents[3] / 'docs' / 'peft_methods.md'
RESNET_CASES = [c for c in HOOKED_CASES if WRAPPERS[c[0]][3] == 'resnet']
SWIN_CASES = [c for c in HOOKED_CASES if WRAPPERS[c[0]][3] == 'swin']
MOBILENETV2_CASES = [
    c for c in HOOKED_CASES if WRAPPERS[c[0]][3] == 'mobilenetv2'
]


def stages_of(backbone, family):
    if family == 'swin':
        return list(backbone.stages)
    if family == 'mobilenetv2':
        return [getattr(backbone, name) for name in backbone.layers]
    return [getattr(backbone, name) for name in backbone.res_layers]


def _blocks(stage, family):
    if family == 'swin':
        return list(stage.blocks)
    # MobileNetV2's conv2 is a stage of one ConvModule
    return list(stage) if isinstance(stage, nn.Sequential) else [stage]


def _convs(block):
    return [m for m in block.modules() if isinstance(m, nn.Conv2d)]


def _block_in_out(block, family):
    """Channels entering and leaving a (inverted) residual block or
    MobileNetV2's conv2."""
    if family == 'mobilenetv2':
        return _convs(block)[0].in_channels, _convs(block)[-1].out_channels
    return block.conv1.in_channels, block.conv2.out_channels


def _stage_width(stage, family):
    """Channels of the stage output (a Swin stage's before its patch
    merging)."""
    last = _blocks(stage, family)[-1]
    if family == 'swin':
        return last.norm1.normalized_shape[0]
    return _block_in_out(last, family)[1]


def _stage_input_width(stage, family):
    """Channels entering the stage (a Swin stage's blocks keep them)."""
    if family == 'swin':
        return _stage_width(stage, family)
    return _block_in_out(_blocks(stage, family)[0], family)[0]


def _mona_layer(c, h):
    return 4 * c + (c * h + h) + sum(h * k * k + h
                                     for k in (3, 5, 7)) + h * h + h + h * c \
        + c


def expected_count(method, family, stages):
    """Trainable parameters each method adds, from the upstream layers."""
    modules = [m for s in stages for m in s.modules()]
    blocks = [b for s in stages for b in _blocks(s, family)]
    if method == 'protune':  # per stage: down from the stage input
        # (c_in * H + H), depth-wise 3x3 (9 * H + H), up (H * c + c)
        return sum((c_in + c) * HIDDEN + 11 * HIDDEN + c
                   for c_in, c in ((_stage_input_width(s, family),
                                    _stage_width(s, family)) for s in stages))
    if method == 'BitFit':
        return sum(m.bias.numel() for m in modules if isinstance(
            m, (nn.Linear, nn.LayerNorm, nn.Conv2d, _BatchNorm))
                   and m.bias is not None)
    if method == 'LoRA-resnet':
        return sum(RANK * (m.in_channels * m.kernel_size[0]**2 +
                           m.out_channels)
                   for m in modules if isinstance(m, nn.Conv2d))
    if method == 'LoRA-mobilenetv2':  # every conv but the depth-wise ones
        return sum(RANK * (m.in_channels + m.out_channels)
                   for m in modules
                   if isinstance(m, nn.Conv2d) and m.groups == 1)
    if method == 'LoRA-swin':  # qkv, proj and both FFN linears
        return sum(RANK * (m.in_features + m.out_features)
                   for s in stages for n, m in s.named_modules()
                   if isinstance(m, nn.Linear)
                   and not n.startswith('downsample'))
    if method == 'AdaptFormer':
        return sum(2 * c * HIDDEN + HIDDEN + c
                   for c in (b.norm2.normalized_shape[0] for b in blocks))
    if method == 'ConvAdapter':
        total = 0
        for b in blocks:
            cin, cout = _block_in_out(b, family)
            hid = cin // REDUCTION
            total += cin * 9 + hid + hid * cout + cout
        return total
    if method == 'VPT':  # T tokens of C channels and a gate per head
        return sum(TOKENS * b.attn.w_msa.embed_dims + b.attn.w_msa.num_heads
                   for b in blocks)
    assert method == 'Mona'
    if family == 'swin':
        return sum(2 * _mona_layer(b.norm1.normalized_shape[0], HIDDEN)
                   for b in blocks)
    return sum(_mona_layer(_block_in_out(b, family)[1], HIDDEN)
               for b in blocks)


@pytest.mark.parametrize('case, method', CASES)
def test_step0_equals_pretrained(case, method, checkpoints):
    upstream, wrapped = build_pair(case, checkpoints, METHODS[method])
    x = torch.randn(2, 3, IMG, IMG)
    with torch.no_grad():
        expected = upstream(x)
    for mode in (True, False):
        wrapped.train(mode)
        outs = wrapped(x)  # with autograd on: the training path
        assert len(outs) == len(expected)
        for out, ref in zip(outs, expected):
            assert torch.equal(out, ref), mode


@pytest.mark.parametrize('case, method', CASES)
def test_only_method_parameters_train(case, method, checkpoints):
    upstream, wrapped = build_pair(case, checkpoints, METHODS[method])
    family = WRAPPERS[case][3]
    for name, param in wrapped.named_parameters():
        assert param.requires_grad == name.startswith('prompts.'), name
    trainable = sum(p.numel() for p in wrapped.parameters()
                    if p.requires_grad)
    assert trainable == expected_count(method, family,
                                       stages_of(upstream, family))
    # the upstream part keeps its keys and values
    state = {k: v for k, v in wrapped.state_dict().items()
             if not k.startswith('prompts.')}
    assert state.keys() == upstream.state_dict().keys()
    wrapped.train()
    assert all(m.training == n.startswith('prompts')
               for n, m in wrapped.named_modules() if n)


@pytest.mark.parametrize('case, method', CASES)
def test_gradients_reach_every_method_parameter(case, method, checkpoints):
    upstream, wrapped = build_pair(case, checkpoints, METHODS[method])
    perturb(wrapped)
    wrapped.train()
    x = torch.randn(2, 3, IMG, IMG)
    out = forward_all(wrapped, x)
    assert not torch.allclose(out, forward_all(upstream, x))
    out.square().sum().backward()
    # no activation is kept between iterations (Mona's block input)
    assert all(getattr(m, '_block_input', None) is None
               for m in wrapped.modules())
    for name, param in wrapped.named_parameters():
        if param.requires_grad:
            assert param.grad is not None and param.grad.abs().sum() > 0, \
                name
        else:
            assert param.grad is None, name


def efficient_and_plain(case, checkpoints, prompt_cfg, check=None):
    """:func:`perturbed_run` with ``efficient_backward`` on and off."""
    return [
        perturbed_run(case, checkpoints, prompt_cfg, check,
                      efficient_backward=efficient)
        for efficient in (True, False)
    ]


@pytest.mark.parametrize('case, method', RESNET_CASES)
def test_resnet_hooked_blocks_leave_the_fast_path(case, method,
                                                  checkpoints):
    """Hooks inside stage 0; stages 1-3 stay on the fast path. Both
    settings of ``efficient_backward`` give the same outputs and
    gradients."""

    def fast_path_only_after_stage_0(wrapped):
        assert [wrapped._is_plain_block(b) for b in wrapped.layer1] == \
            [False, False]
        assert all(wrapped._is_plain_block(b) for b in wrapped.layer2)

    (out_a, grads_a), (out_b, grads_b) = efficient_and_plain(
        case, checkpoints, dict(METHODS[method], stages=[0]),
        fast_path_only_after_stage_0)
    torch.testing.assert_close(out_a, out_b, rtol=1e-6, atol=1e-6)
    for grad_a, grad_b in zip(grads_a, grads_b):
        torch.testing.assert_close(grad_a, grad_b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize('case, method', MOBILENETV2_CASES)
def test_mobilenetv2_hooked_blocks_leave_the_fast_path(case, method,
                                                       checkpoints):
    """Hooks in stage 1 and the last stage (``conv2`` in mmdet and
    mmpretrain); stage 2 between them, whose input needs a gradient, stays on
    the fast path. Both settings of ``efficient_backward`` give the same
    outputs and gradients."""
    _, upstream_cls, kwargs, _ = WRAPPERS[case]
    last = len(upstream_cls(**kwargs).layers) - 1

    def fast_path_only_between(wrapped):
        assert all(wrapped._plain_layers(b) is None for i in (1, last)
                   for b in wrapped.blocks_in_stage(i))
        assert all(wrapped._plain_layers(b) is not None
                   for b in wrapped.blocks_in_stage(2))

    (out_a, grads_a), (out_b, grads_b) = efficient_and_plain(
        case, checkpoints, dict(METHODS[method], stages=[1, last]),
        fast_path_only_between)
    torch.testing.assert_close(out_a, out_b, rtol=1e-6, atol=1e-6)
    for grad_a, grad_b in zip(grads_a, grads_b):
        torch.testing.assert_close(grad_a, grad_b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize('case, method', SWIN_CASES)
def test_swin_checkpointed_blocks_rerun_the_hooks(case, method,
                                                  checkpoints):
    """With ``efficient_backward`` Swin blocks after the first trainable
    layer are recomputed in backward, hooks included: same outputs and
    gradients as plain autograd."""
    (out_a, grads_a), (out_b, grads_b) = efficient_and_plain(
        case, checkpoints, METHODS[method])
    torch.testing.assert_close(out_a, out_b, rtol=0, atol=0)
    for grad_a, grad_b in zip(grads_a, grads_b):
        torch.testing.assert_close(grad_a, grad_b, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize('case, method', CASES)
def test_deepcopy_computes_with_its_own_parameters(case, method,
                                                   checkpoints):
    upstream, wrapped = build_pair(case, checkpoints, METHODS[method])
    wrapped.train()
    twin = copy.deepcopy(wrapped)
    perturb(twin)
    x = torch.randn(2, 3, IMG, IMG)
    reference = forward_all(upstream, x)
    twin_out = forward_all(twin, x)
    assert torch.equal(forward_all(wrapped, x), reference)
    assert not torch.allclose(twin_out, reference)
    twin_out.sum().backward()
    assert all(p.grad is None for p in wrapped.parameters())
    assert all(p.grad is not None for p in twin.prompts.parameters())


@pytest.mark.parametrize('case, method', CASES)
def test_delta_checkpoint_is_the_method_parameters(case, method,
                                                   checkpoints):
    """The delta-checkpoint code, unchanged, splits off exactly the method's
    parameters, and the frozen part hashes as the pretrained backbone."""
    upstream, wrapped = build_pair(case, checkpoints, METHODS[method])
    perturb(wrapped)
    detector = nn.Module()
    detector.backbone = wrapped
    assert frozen_backbone_sha256(wrapped) == frozen_backbone_sha256(
        upstream.state_dict())
    delta, frozen = split_delta(detector, detector.state_dict())
    assert set(delta) == {f'backbone.prompts.{k}'
                          for k in wrapped.prompts.state_dict()}
    _, fresh = build_pair(case, checkpoints, METHODS[method])
    fresh_detector = nn.Module()
    fresh_detector.backbone = fresh
    fresh_detector.load_state_dict(delta, strict=False)
    x = torch.randn(2, 3, IMG, IMG)
    assert torch.equal(forward_all(fresh, x), forward_all(wrapped, x))


def test_methods_tune_only_the_selected_stages(checkpoints):
    _, wrapped = build_pair('mmdet-Swin', checkpoints,
                            dict(METHODS['LoRA-swin'], stages=[1]))
    assert list(wrapped.prompts) == ['1']
    hooked = [n for n, m in wrapped.named_modules() if m._forward_hooks]
    assert hooked and all(n.startswith('stages.1.') for n in hooked)


# prompt_cfg -> trainable parameters on ResNet-50, Swin-T and mmseg's
# MobileNetV2, as docs/peft_methods.md lists them (None: the method does not
# apply, or the doc gives no count)
DOCUMENTED = [
    (None, 371_200, 188_576, 78_344),
    (dict(type='BitFit'), 26_496, 51_264, 15_744),
    (dict(type='LoRA'), 165_888, 282_624, 67_712),
    (dict(type='LoRA', targets=['conv1x1', 'conv3x3']), 316_928, None, None),
    (dict(type='LoRA', targets=['qkv']), None, 70_656, None),
    (dict(type='AdaptFormer'), None, 570_432, None),
    (dict(type='ConvAdapter'), 4_465_936, None, 52_992),
    (dict(type='ConvAdapter', reduction=16), 1_216_372, None, None),
    (dict(type='ConvAdapter', reduction=8), None, None, 32_720),
    (dict(type='Mona'), 2_164_480, 1_408_128, 365_408),
    (dict(type='VPT'), None, 44_298, None),
]


def test_documented_parameter_counts():
    doc = DOCS.read_text()
    swin_t = dict(embed_dims=96, depths=(2, 2, 6, 2),
                  num_heads=(3, 6, 12, 24), window_size=7)
    for prompt_cfg, resnet50, swin, mobilenet_v2 in DOCUMENTED:
        for wrapper_cls, kwargs, count in (
                (ProTuneResNet, dict(depth=50), resnet50),
                (ProTuneSwinTransformer, swin_t, swin),
                (SegProTuneMobileNetV2, dict(widen_factor=1.0),
                 mobilenet_v2)):
            if count is None:
                continue
            model = wrapper_cls(**kwargs, prompt_cfg=prompt_cfg)
            trainable = sum(p.numel() for p in model.prompts.parameters())
            assert trainable == count, (wrapper_cls.__name__, prompt_cfg)
            assert f'{count:,}' in doc


def tuning_modules():
    """Registered ``prompt_cfg.type`` name -> class, for both kinds."""
    return {
        name: cls
        for name, cls in MODELS.module_dict.items()
        if issubclass(cls, TuningModule)
    }


def test_every_tuning_module_is_once_in_the_method_table():
    """Pro-tuning's prompt blocks are the ``protune`` method; each hooked
    method is its own ``method_name``, and no two share one."""
    modules = tuning_modules()
    assert modules.keys() == set(MODELS.module_dict)
    table = list(REPORT_METHODS) + list(peft_methods())
    assert len(table) == len(set(table))
    hooked = {n: c for n, c in modules.items() if issubclass(c, HookedMethod)}
    assert peft_methods() == {c.method_name: n for n, c in hooked.items()}
    assert len(peft_methods()) == len(hooked)
    for name, cls in modules.items():
        assert issubclass(cls, (StageBlock, HookedMethod)), name
        assert cls.method_name and table.count(cls.method_name) == 1, name
    assert {c.method_name for c in modules.values()
            if issubclass(c, StageBlock)} == {'protune'}


def documented_types():
    """How many method rows of the table in docs/peft_methods.md name each
    type in their ``type`` cell; a row whose Paper cell says "as above"
    shows other arguments of the method above it, not a method."""
    lines = [line for line in DOCS.read_text().splitlines()
             if line.startswith('|')]
    header, _, *rows = lines
    assert header.split('|')[1].strip() == '`type`'
    counts = Counter()
    for row in rows:
        cells = [cell.strip() for cell in row.split('|')[1:-1]]
        if cells[1] != 'as above':
            counts.update(re.findall(r'`(\w+)`', cells[0]))
    return counts


def test_every_tuning_module_is_one_row_in_the_docs():
    assert documented_types() == Counter(dict.fromkeys(tuning_modules(), 1))
