"""PEFT baselines in every ProTune* wrapper: step-0 equivalence, what trains,
gradients, hooks on ResNet's fast path, deepcopy and bad configs; VPT's gated
prompt attention against a direct computation."""
import copy
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from mmdet.models.backbones import ResNet as DetResNet
from mmdet.models.backbones import SwinTransformer as DetSwin
from mmengine.config import ConfigDict
from mmseg.models.backbones import ResNetV1c as SegResNetV1c
from mmseg.models.backbones import SwinTransformer as SegSwin
from torch.nn.modules.batchnorm import _BatchNorm

from mmprotune.engine.delta import frozen_backbone_sha256, split_delta
from mmprotune.models import (ProTuneResNet, ProTuneResNetV1c,
                              ProTuneSwinTransformer,
                              SegProTuneSwinTransformer)
from mmprotune.testing import write_pretrained_checkpoint

RESNET = dict(depth=18, base_channels=8, stem_channels=8)
SWIN = dict(
    embed_dims=16,
    depths=(2, 1),
    num_heads=(1, 2),
    strides=(4, 2),
    out_indices=(0, 1),
    window_size=4,
    pretrain_img_size=32)
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
}
RANK, HIDDEN, REDUCTION, TOKENS = 2, 4, 2, 3
METHODS = {
    'BitFit': dict(type='BitFit'),
    'LoRA-resnet': dict(type='LoRA', rank=RANK, alpha=4,
                        targets=['conv1x1', 'conv3x3']),
    'LoRA-swin': dict(type='LoRA', rank=RANK, alpha=4),
    'AdaptFormer': dict(type='AdaptFormer', hidden_channels=HIDDEN,
                        scale=0.5),
    'ConvAdapter': dict(type='ConvAdapter', reduction=REDUCTION),
    'Mona': dict(type='Mona', hidden_channels=HIDDEN),
    'VPT': dict(type='VPT', num_tokens=TOKENS),
}
FAMILY_METHODS = dict(
    resnet=['BitFit', 'LoRA-resnet', 'ConvAdapter', 'Mona'],
    swin=['BitFit', 'LoRA-swin', 'AdaptFormer', 'Mona', 'VPT'])
CASES = [(w, m) for w, (*_, family) in WRAPPERS.items()
         for m in FAMILY_METHODS[family]]
RESNET_CASES = [c for c in CASES if WRAPPERS[c[0]][3] == 'resnet']


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    paths = {}
    for name, (_, upstream_cls, kwargs, _) in WRAPPERS.items():
        paths[name] = str(tmp_path_factory.mktemp('ckpt') / 'pretrained.pth')
        write_pretrained_checkpoint(upstream_cls(**kwargs), paths[name],
                                    prefix='backbone.')
    return paths


def build_pair(case, checkpoints, prompt_cfg, **wrapper_kwargs):
    """The upstream backbone and its PEFT-tuned wrapper, both loaded from
    the same checkpoint."""
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


def stages_of(backbone, family):
    if family == 'swin':
        return list(backbone.stages)
    return [getattr(backbone, name) for name in backbone.res_layers]


def _blocks(stage, family):
    return list(stage.blocks) if family == 'swin' else list(stage)


def _mona_layer(c, h):
    return 4 * c + (c * h + h) + sum(h * k * k + h
                                     for k in (3, 5, 7)) + h * h + h + h * c \
        + c


def expected_count(method, family, stages):
    """Trainable parameters each method adds, from the upstream layers."""
    modules = [m for s in stages for m in s.modules()]
    blocks = [b for s in stages for b in _blocks(s, family)]
    if method == 'BitFit':
        return sum(m.bias.numel() for m in modules if isinstance(
            m, (nn.Linear, nn.LayerNorm, nn.Conv2d, _BatchNorm))
                   and m.bias is not None)
    if method == 'LoRA-resnet':
        return sum(RANK * (m.in_channels * m.kernel_size[0]**2 +
                           m.out_channels)
                   for m in modules if isinstance(m, nn.Conv2d))
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
            cin, hid = b.conv1.in_channels, b.conv1.in_channels // REDUCTION
            cout = b.conv2.out_channels
            total += cin * 9 + hid + hid * cout + cout
        return total
    if method == 'VPT':  # T tokens of C channels and a gate per head
        return sum(TOKENS * b.attn.w_msa.embed_dims + b.attn.w_msa.num_heads
                   for b in blocks)
    assert method == 'Mona'
    if family == 'swin':
        return sum(2 * _mona_layer(b.norm1.normalized_shape[0], HIDDEN)
                   for b in blocks)
    return sum(_mona_layer(b.conv2.out_channels, HIDDEN) for b in blocks)


def perturb(model):
    """Non-zero values for every method parameter (the zero-init up
    projections included), so that each one changes the output."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for param in model.prompts.parameters():
            param.copy_(0.1 * torch.randn(param.shape, generator=generator))


def forward_all(model, x):
    return torch.cat([o.flatten() for o in model(x)])


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


SWIN_CASES = [c for c in CASES if WRAPPERS[c[0]][3] == 'swin']


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


RESNET_ALLOWED = r"\['BitFit', 'ConvAdapter', 'ConvPromptBlock', 'LoRA', " \
    r"'Mona'\]"
SWIN_ALLOWED = r"\['AdaptFormer', 'BitFit', 'LoRA', 'Mona', " \
    r"'TokenPromptBlock', 'VPT'\]"


@pytest.mark.parametrize('family, prompt_cfg, pattern', [
    ('resnet', dict(type='AdaptFormer'),
     r"prompt_cfg.type='AdaptFormer' applies to \['swin'\] backbones, not to "
     r"'resnet'; allowed: " + RESNET_ALLOWED),
    ('swin', dict(type='ConvAdapter'),
     r"prompt_cfg.type='ConvAdapter' applies to \['resnet'\] backbones, not "
     r"to 'swin'; allowed: " + SWIN_ALLOWED),
    ('resnet', dict(type='LoRA', hidden_channels=4),
     r"unknown prompt_cfg field\(s\) \['hidden_channels'\]; allowed: "
     r"\['alpha', 'rank', 'stages', 'targets', 'type'\]"),
    ('swin', dict(type='BitFit', family='resnet'),
     r"unknown prompt_cfg field\(s\) \['family'\]; allowed: "
     r"\['stages', 'type'\]"),
    ('swin', dict(type='LoRA', rank=0), r'prompt_cfg.rank must be an int'),
    ('resnet', dict(type='LoRA', rank=1.5),
     r'prompt_cfg.rank must be an int'),
    ('swin', dict(type='LoRA', alpha=-1), r'prompt_cfg.alpha must be'),
    ('swin', dict(type='LoRA', targets=['conv1x1']),
     r"prompt_cfg.targets must be a non-empty list of \['ffn', 'proj', "
     r"'qkv'\] for a swin backbone"),
    ('resnet', dict(type='LoRA', targets='conv1x1'), r'prompt_cfg.targets'),
    ('swin', dict(type='AdaptFormer', hidden_channels=0),
     r'prompt_cfg.hidden_channels must be an int > 0'),
    ('swin', dict(type='AdaptFormer', scale=0), r'prompt_cfg.scale'),
    ('resnet', dict(type='ConvAdapter', reduction=3),
     r"prompt_cfg.reduction must be an int > 0 that divides the blocks' "
     r'input channels \[8\]'),
    ('resnet', dict(type='ConvAdapter', kernel_size=2),
     r'prompt_cfg.kernel_size must be an odd int'),
    ('swin', dict(type='Mona', hidden_ratio=-1.0),
     r'prompt_cfg.hidden_ratio must be a number > 0'),
    ('resnet', dict(type='Mona', kernel_sizes=(3, 4)),
     r'prompt_cfg.kernel_sizes must be an odd int'),
    ('swin', dict(type='Mona', kernel_sizes=()), r'prompt_cfg.kernel_sizes'),
    ('resnet', dict(type='VPT'),
     r"prompt_cfg.type='VPT' applies to \['swin'\] backbones, not to "
     r"'resnet'; allowed: " + RESNET_ALLOWED),
    ('swin', dict(type='VPT', hidden_channels=4),
     r"unknown prompt_cfg field\(s\) \['hidden_channels'\]; allowed: "
     r"\['num_tokens', 'stages', 'type'\]"),
    ('swin', dict(type='VPT', num_tokens=0),
     r'prompt_cfg.num_tokens must be an int > 0, got 0'),
    ('swin', dict(type='VPT', num_tokens=2.5),
     r'prompt_cfg.num_tokens must be an int > 0, got 2.5'),
    ('swin', dict(type='VPT', num_tokens=True),
     r'prompt_cfg.num_tokens must be an int > 0, got True'),
])
def test_bad_prompt_cfg(family, prompt_cfg, pattern):
    case = dict(resnet='mmdet-ResNet', swin='mmseg-Swin')[family]
    wrapper_cls, _, kwargs, _ = WRAPPERS[case]
    with pytest.raises(ValueError, match=pattern):
        wrapper_cls(**kwargs, prompt_cfg=prompt_cfg)


def test_mona_rejects_swin_with_cp():
    with pytest.raises(ValueError, match='Mona does not support with_cp'):
        ProTuneSwinTransformer(**SWIN, with_cp=True,
                               prompt_cfg=dict(type='Mona'))


def test_methods_tune_only_the_selected_stages(checkpoints):
    _, wrapped = build_pair('mmdet-Swin', checkpoints,
                            dict(METHODS['LoRA-swin'], stages=[1]))
    assert list(wrapped.prompts) == ['1']
    hooked = [n for n, m in wrapped.named_modules() if m._forward_hooks]
    assert hooked and all(n.startswith('stages.1.') for n in hooked)


@pytest.mark.parametrize('case', ['mmdet-Swin', 'mmseg-Swin'])
def test_vpt_gated_attention_matches_its_formula(case):
    """The hooked ``WindowMSA`` of a block, with non-zero gates and a mask
    (as in shifted windows), equals the upstream attention plus the gated
    prompt attention computed head by head (float64)."""
    wrapper_cls, _, kwargs, _ = WRAPPERS[case]
    wrapped = wrapper_cls(**dict(kwargs, num_heads=(2, 4)),
                          prompt_cfg=METHODS['VPT'])
    wrapped.init_weights()
    wrapped.double()
    perturb(wrapped)
    w_msa = wrapped.stages[0].blocks[1].attn.w_msa
    layer = wrapped.prompts['0'].layers['blocks_1_attn_w_msa']
    tokens, gate = layer.tokens, layer.gate
    assert gate.abs().min() > 0
    generator = torch.Generator().manual_seed(0)
    c, n = w_msa.embed_dims, w_msa.window_size[0] * w_msa.window_size[1]
    x = torch.randn(4, n, c, generator=generator, dtype=torch.float64)
    mask = -100.0 * (torch.rand(2, n, n, generator=generator) > 0.5).double()
    with torch.no_grad():
        out = w_msa(x, mask=mask)
        upstream = w_msa.forward(x, mask=mask)  # no hooks
        d = c // w_msa.num_heads
        weight, bias = w_msa.qkv.weight, w_msa.qkv.bias

        def project(inputs, which, head):
            """q (which=0), k (1) or v (2) of ``head``."""
            rows = slice(which * c + head * d, which * c + (head + 1) * d)
            return inputs @ weight[rows].T + bias[rows]

        heads = []
        for h in range(w_msa.num_heads):
            q = project(x, 0, h)
            k, v = project(tokens, 1, h), project(tokens, 2, h)
            scores = torch.einsum('wnd,td->wnt', q, k) * w_msa.scale
            heads.append(gate[h] * torch.softmax(scores, dim=-1) @ v)
        expected = upstream + torch.cat(heads, dim=-1) @ w_msa.proj.weight.T
    assert not torch.allclose(out, upstream)
    assert torch.allclose(out, expected, rtol=1e-10, atol=1e-12)


def test_vpt_gates_learn_first(checkpoints):
    """At step 0 the gates get a gradient and the tokens none (their path
    is gated by 0)."""
    _, wrapped = build_pair('mmdet-Swin', checkpoints, METHODS['VPT'])
    wrapped.train()
    forward_all(wrapped, torch.randn(2, 3, IMG, IMG)).square().sum().backward()
    layers = [layer for method in wrapped.prompts.values()
              for layer in method.layers.values()]
    assert len(layers) == sum(SWIN['depths'])
    for layer in layers:
        assert layer.gate.grad.abs().min() > 0
        assert torch.count_nonzero(layer.tokens.grad) == 0


def test_vpt_runs_in_blocks_with_cp(checkpoints):
    """Swin's own ``with_cp`` recomputes the window attention, hook
    included: same outputs and gradients as without it."""
    results = [
        perturbed_run('mmseg-Swin', checkpoints, METHODS['VPT'],
                      with_cp=with_cp) for with_cp in (False, True)
    ]
    (out_a, grads_a), (out_b, grads_b) = results
    torch.testing.assert_close(out_a, out_b, rtol=0, atol=0)
    for grad_a, grad_b in zip(grads_a, grads_b):
        torch.testing.assert_close(grad_a, grad_b, rtol=1e-5, atol=1e-7)


# prompt_cfg -> trainable parameters on ResNet-50 and Swin-T, as
# docs/peft_methods.md lists them (None: the method does not apply)
DOCUMENTED = [
    (None, 498_176, 188_576),
    (dict(type='BitFit'), 26_496, 51_264),
    (dict(type='LoRA'), 165_888, 282_624),
    (dict(type='LoRA', targets=['conv1x1', 'conv3x3']), 316_928, None),
    (dict(type='LoRA', targets=['qkv']), None, 70_656),
    (dict(type='AdaptFormer'), None, 570_432),
    (dict(type='ConvAdapter'), 4_465_936, None),
    (dict(type='ConvAdapter', reduction=16), 1_216_372, None),
    (dict(type='Mona'), 2_164_480, 1_408_128),
    (dict(type='VPT'), None, 44_298),
]


def test_documented_parameter_counts():
    doc = (Path(__file__).resolve().parents[3] / 'docs' /
           'peft_methods.md').read_text()
    swin_t = dict(embed_dims=96, depths=(2, 2, 6, 2),
                  num_heads=(3, 6, 12, 24), window_size=7)
    for prompt_cfg, resnet50, swin in DOCUMENTED:
        for wrapper_cls, kwargs, count in (
                (ProTuneResNet, dict(depth=50), resnet50),
                (ProTuneSwinTransformer, swin_t, swin)):
            if count is None:
                continue
            model = wrapper_cls(**kwargs, prompt_cfg=prompt_cfg)
            trainable = sum(p.numel() for p in model.prompts.parameters())
            assert trainable == count, (wrapper_cls.__name__, prompt_cfg)
            assert f'{count:,}' in doc
