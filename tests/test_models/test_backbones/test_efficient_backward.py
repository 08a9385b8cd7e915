"""The frozen-aware backward (``efficient_backward=True``, the default, and
its presets) gives the gradients of plain autograd while keeping far less
alive for backward."""
import pytest
import torch
import torch.nn as nn
from mmdet.models.backbones import MobileNetV2 as DetMobileNetV2
from mmdet.models.backbones import ResNet as DetResNet
from mmdet.models.backbones import SwinTransformer as DetSwin
from mmseg.models.backbones import MobileNetV2 as SegMobileNetV2
from mmseg.models.backbones import SwinTransformer as SegSwin

from mmprotune.models import (ClsProTuneMobileNetV2, ClsProTuneResNetV1d,
                              ClsProTuneSwinTransformer,
                              ClsProTuneVisionTransformer, ProTuneMobileNetV2,
                              ProTuneResNet, ProTuneResNetV1c,
                              ProTuneSwinTransformer, SegProTuneMobileNetV2,
                              SegProTuneSwinTransformer)
from mmprotune.models.backbones.frozen_ops import frozen_conv_affine
from mmprotune.models.backbones.prompted import BACKWARD_PRESETS
from mmprotune.testing.backbone_pairs import efficient_and_plain, prompt_grads
from mmprotune.utils.memory import (peak_bytes, retained_bytes,
                                    saved_tensor_bytes)

RESNET = dict(depth=18, base_channels=8, stem_channels=8)
SWIN = dict(embed_dims=16, depths=(2, 1, 2, 1), num_heads=(1, 2, 2, 4),
            window_size=4, pretrain_img_size=64)
CASES = {
    'mmdet-ResNet18': (ProTuneResNet, RESNET),
    'mmdet-ResNet50-v1d': (ProTuneResNet,
                           dict(depth=50, base_channels=4, deep_stem=True,
                                avg_down=True, stem_channels=4)),
    'mmseg-ResNetV1c': (ProTuneResNetV1c, dict(RESNET, dilations=(1, 1, 2, 4),
                                               strides=(1, 2, 1, 1))),
    'mmdet-Swin': (ProTuneSwinTransformer, SWIN),
    'mmseg-Swin': (SegProTuneSwinTransformer, SWIN),
    # classifiers: the last stage's output; stochastic depth in the blocks
    'mmpretrain-ResNet50-v1d': (ClsProTuneResNetV1d,
                                dict(depth=50, base_channels=4,
                                     stem_channels=4, drop_path_rate=0.1)),
    'mmpretrain-Swin': (ClsProTuneSwinTransformer,
                        dict(arch=dict(embed_dims=16, depths=(2, 1, 2, 1),
                                       num_heads=(1, 2, 2, 4)),
                             window_size=2, img_size=64,
                             use_abs_pos_embed=True)),
    # 4 prompted layers before the last, whose class token is the output
    'mmpretrain-ViT': (ClsProTuneVisionTransformer,
                       dict(arch=dict(embed_dims=16, num_layers=5,
                                      num_heads=2, feedforward_channels=32),
                            img_size=64, patch_size=16)),
    # inverted residual blocks with and without a shortcut, ``conv2``
    'mmdet-MobileNetV2': (ProTuneMobileNetV2, dict(widen_factor=0.25)),
    'mmpretrain-MobileNetV2': (ClsProTuneMobileNetV2,
                               dict(widen_factor=0.25, out_indices=(3, 7))),
    'mmseg-MobileNetV2-dilated': (
        SegProTuneMobileNetV2, dict(widen_factor=0.25,
                                    strides=(1, 2, 2, 1, 1, 1, 1),
                                    dilations=(1, 1, 1, 2, 2, 4, 4))),
}


#: ``prompt_cfg`` variants beyond the default (a prompt at each stage end,
#: computed from the stage input)
VARIANTS = {
    'block': dict(placement='block'),
    'output': dict(prompt_input='output'),
    'block-output': dict(placement='block', prompt_input='output'),
    # the block's own variants, on a strided (input) prompt and an output one
    'ms-scale': dict(kernel_size=(3, 5), layer_scale=True),
    'output-ms': dict(prompt_input='output', kernel_size=(1, 3)),
}
#: the variants' cases: bottleneck blocks with a strided 3x3 conv
#: (ResNet-50) and with an average-pooled shortcut (V1d), dilated stages of
#: stride 1 (V1c), and both Swins
VARIANT_CASES = ('mmdet-ResNet18', 'mmdet-ResNet50-v1d', 'mmseg-ResNetV1c',
                 'mmdet-Swin', 'mmpretrain-Swin', 'mmdet-MobileNetV2')


def _as_tuple(kernel_size):
    return kernel_size if isinstance(kernel_size, tuple) else (kernel_size, )


def pair(name, stages=(0, 1, 2, 3), preset=True, variant=None):
    """The same prompted backbone with the efficient path (``preset``) and
    the plain path, in float64, with non-zero prompts and non-trivial BN
    statistics; ``variant``: a key of :data:`VARIANTS`."""
    cls, kwargs = CASES[name]
    prompt_cfg = VARIANTS[variant] if variant else None
    return efficient_and_plain(cls, kwargs, stages,
                               efficient_backward=preset,
                               prompt_cfg=prompt_cfg)


grads = prompt_grads


@pytest.mark.parametrize('name, stages, mode, preset, variant', [
    *[(name, (0, 1, 2, 3), True, preset, None) for name in sorted(CASES)
      for preset in (True, 'balanced', 'speed')],
    ('mmdet-ResNet18', (1, 3), False, True, None),
    ('mmseg-ResNetV1c', (1, 3), True, True, None),
    ('mmdet-Swin', (1, 3), False, True, None),
    ('mmdet-Swin', (1, 3), True, 'balanced', None),
    ('mmpretrain-Swin', (0, 2), True, True, None),
    # the variants: each with 'memory', both together with every preset
    *[(name, (0, 1, 2, 3), True, True, variant) for name in VARIANT_CASES
      for variant in ('block', 'output')],
    *[(name, (0, 1, 2, 3), True, preset, 'block-output')
      for name in VARIANT_CASES for preset in (True, 'balanced', 'speed')],
    ('mmdet-ResNet18', (1, 3), False, True, 'block-output'),
    *[(name, (0, 1, 2, 3), True, True, variant)
      for name in ('mmdet-ResNet50-v1d', 'mmdet-Swin')
      for variant in ('ms-scale', 'output-ms')],
    ('mmdet-Swin', (1, 3), False, 'balanced', 'block'),
])
def test_gradients_match_plain_autograd(name, stages, mode, preset,
                                        variant):
    """Every preset and ``prompt_cfg`` variant: the outputs of the training
    forward bit for bit the plain path's, every gradient equal to it in
    float64. The variants run on a 57x75 image, whose odd stage sizes (15x19,
    8x10, 4x5, 2x3) a strided prompt of a stage input must match."""
    efficient, plain = pair(name, stages, preset, variant)
    size = (64, 64) if variant is None else (57, 75)
    x = torch.randn(2, 3, *size, dtype=torch.double)
    with torch.no_grad():
        weights = [torch.randn_like(o) for o in plain(x)]
    outs, grad, grad_x = grads(efficient.train(mode), x, weights)
    ref_outs, ref_grad, ref_grad_x = grads(plain.train(mode), x, weights)
    for out, ref in zip(outs, ref_outs):
        assert torch.equal(out, ref)
    sites = sum(len(efficient.blocks_in_stage(i)) for i in stages) \
        if 'block' in (variant or '') else len(stages)
    # per site: down, up and each depth-wise conv (weight and bias each),
    # and the scale if learnt
    cfg = VARIANTS[variant] if variant else {}
    per_site = 2 * (2 + len(_as_tuple(cfg.get('kernel_size', 3)))) \
        + cfg.get('layer_scale', False)
    assert grad.keys() == ref_grad.keys() and len(grad) == per_site * sites
    for key in grad:
        # every prompt gets a gradient, the earliest through all later
        # frozen stages
        assert grad[key].abs().sum() > 0, key
        assert torch.allclose(grad[key], ref_grad[key], rtol=1e-8,
                              atol=1e-12), key
    # an input that asks for a gradient gets it through every frozen layer
    assert torch.allclose(grad_x, ref_grad_x, rtol=1e-8, atol=1e-12)


def test_true_is_the_memory_preset_and_bad_values_are_refused():
    assert ProTuneResNet(**RESNET).backward_preset is \
        BACKWARD_PRESETS['memory']
    assert ProTuneResNet(**RESNET, efficient_backward=False) \
        .backward_preset is None
    for bad in ('fast', 'Memory', 1, None):
        with pytest.raises(ValueError) as err:
            ProTuneResNet(**RESNET, efficient_backward=bad)
        message = str(err.value)
        assert f'efficient_backward={bad!r}' in message
        assert all(repr(name) in message for name in BACKWARD_PRESETS)
        assert 'True' in message and 'False' in message


def test_inference_is_the_upstream_forward_bit_for_bit():
    efficient, plain = pair('mmdet-ResNet18')
    x = torch.randn(1, 3, 64, 64, dtype=torch.double)
    with torch.no_grad():
        for out, ref in zip(efficient(x), plain(x)):
            assert torch.equal(out, ref)


def test_derived_tensors_follow_load_state_dict():
    """The BN scale the backward uses is derived from the BN's current
    tensors: new statistics loaded after a first step are used."""
    efficient, plain = pair('mmdet-ResNet18')
    x = torch.randn(1, 3, 64, 64, dtype=torch.double)
    weights = [torch.ones(1)] * 4
    grads(efficient, x, weights)
    state = plain.state_dict()
    # a small mean shift: a shift of 1 silences most ReLUs, and a stale
    # scale then no longer changes the gradients (checked: it passed)
    for key in state:
        if key.endswith('running_var'):
            state[key] *= 2.0
        elif key.endswith('running_mean'):
            state[key] += 0.1
    plain.load_state_dict(state)
    efficient.load_state_dict(state)
    outs, grad, _ = grads(efficient, x, weights)
    ref_outs, ref_grad, _ = grads(plain, x, weights)
    for out, ref in zip(outs, ref_outs):
        assert torch.equal(out, ref)
    for key in grad:
        assert torch.allclose(grad[key], ref_grad[key], rtol=1e-8,
                              atol=1e-12), key


@pytest.mark.parametrize('cast', ['half', 'to_bfloat16'])
def test_derived_tensors_follow_half_and_to(cast):
    """After ``.half()`` / ``.to(torch.bfloat16)`` (on the CPU), a step after
    a float64 step runs in the new dtype: outputs bit for bit the plain
    path's in that dtype, gradients in that dtype and close to float64's."""
    efficient, plain = pair('mmdet-ResNet18')
    x = torch.randn(1, 3, 64, 64, dtype=torch.double)
    weights = [torch.ones(1)] * 4
    grads(efficient, x, weights)
    _, ref_grad, _ = grads(plain, x, weights)
    dtype = torch.half if cast == 'half' else torch.bfloat16
    for model in (efficient, plain):
        model.half() if cast == 'half' else model.to(dtype)
    outs, grad, _ = grads(efficient, x.to(dtype), weights)
    low_outs, low_grad, _ = grads(plain, x.to(dtype), weights)
    for out, ref in zip(outs, low_outs):
        assert out.dtype == dtype and torch.equal(out, ref)
    assert grad.keys() == ref_grad.keys()
    for key in grad:
        assert grad[key].dtype == dtype, key
        cos = torch.nn.functional.cosine_similarity(
            grad[key].double().flatten(), ref_grad[key].flatten(), dim=0)
        assert cos > 0.99, key
        cos = torch.nn.functional.cosine_similarity(
            grad[key].double().flatten(), low_grad[key].double().flatten(),
            dim=0)
        assert cos > 0.99, key


@pytest.mark.parametrize('preset', [True, 'speed'])
def test_autocast_bf16_on_cpu(preset):
    """Under autocast the outputs are the plain path's bit for bit too."""
    efficient, plain = pair('mmdet-ResNet18', preset=preset)
    efficient.float()
    plain.float()
    x = torch.randn(2, 3, 64, 64)
    weights = [torch.ones(1)] * 4
    with torch.autocast('cpu', dtype=torch.bfloat16):
        outs, grad, _ = grads(efficient, x, weights)
        ref_outs, ref_grad, _ = grads(plain, x, weights)
    assert all(o.dtype == torch.bfloat16 for o in outs)
    for out, ref in zip(outs, ref_outs):
        assert torch.equal(out, ref)
    for key in grad:
        assert torch.isfinite(grad[key]).all()
        cos = torch.nn.functional.cosine_similarity(
            grad[key].flatten().float(), ref_grad[key].flatten().float(),
            dim=0)
        assert cos > 0.98, key


def _memory(model, x):
    model.train()
    exclude = list(model.parameters()) + list(model.buffers())
    saved, out = saved_tensor_bytes(lambda: model(x), exclude)
    del out
    retained, out = retained_bytes(lambda: model(x))
    return saved, retained


@pytest.mark.parametrize('upstream, wrapper, kwargs, bound', [
    (DetResNet, ProTuneResNet, dict(depth=50), 0.35),
    (DetSwin, ProTuneSwinTransformer, dict(), 0.3),
    (SegSwin, SegProTuneSwinTransformer, dict(), 0.3),
    (DetMobileNetV2, ProTuneMobileNetV2, dict(), 0.3),
    (SegMobileNetV2, SegProTuneMobileNetV2, dict(), 0.3),
])
def test_keeps_a_fraction_of_full_finetuning(upstream, wrapper, kwargs,
                                             bound):
    """Real ResNet-50 / Swin-T / MobileNetV2 at 2x3x128x128: what the
    backbone forward keeps for backward, vs full fine-tuning
    (frozen_stages=1 for ResNet)."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 128, 128)
    full = upstream(**kwargs, **({'frozen_stages': 1}
                                 if upstream is DetResNet else {}))
    full_saved, full_retained = _memory(full, x)
    plain_saved, plain_retained = _memory(
        wrapper(**kwargs, efficient_backward=False), x)
    saved, retained = _memory(wrapper(**kwargs), x)
    assert saved < plain_saved and retained < plain_retained
    assert saved <= bound * full_saved
    assert retained <= bound * full_retained


def _same_padding_conv(conv):
    """``conv`` rebuilt with ``padding='same'`` (same weight)."""
    same = torch.nn.Conv2d(conv.in_channels, conv.out_channels,
                           conv.kernel_size, bias=False, padding='same',
                           dtype=conv.weight.dtype)
    same.weight.data.copy_(conv.weight.data)
    same.requires_grad_(False)
    return same


def _unfreeze_bn(model):
    model.layer3[0].norm2.requires_grad_(True)


def _unfreeze_conv(model):
    model.layer3[0].conv1.requires_grad_(True)


def _bn_train_mode(model):
    model.layer3[0].norm1.train()


def _same_padding(model):
    block = model.layer3[1]
    block.conv2 = _same_padding_conv(block.conv2)


@pytest.mark.parametrize('edit', [
    _unfreeze_bn, _unfreeze_conv, _bn_train_mode, _same_padding])
def test_fast_path_falls_back_where_it_cannot_compute_upstream(edit):
    """A block the fast path cannot run as upstream runs it (a parameter made
    trainable again, a BN put back into train mode, string padding) runs
    through plain autograd: outputs, every trainable parameter's gradient and
    the BN statistics equal the plain path's."""
    efficient, plain = pair('mmdet-ResNet18', stages=(0, 1, 2, 3))
    x = torch.randn(2, 3, 64, 64, dtype=torch.double)
    with torch.no_grad():
        weights = [torch.randn_like(o) for o in plain(x)]
    efficient.train()
    plain.train()
    edit(efficient)
    edit(plain)
    outs, grad, grad_x = grads(efficient, x, weights)
    ref_outs, ref_grad, ref_grad_x = grads(plain, x, weights)
    for out, ref in zip(outs, ref_outs):
        assert torch.allclose(out, ref, rtol=1e-10, atol=1e-12)
    assert grad.keys() == ref_grad.keys()
    for key in grad:
        assert grad[key] is not None, key
        assert torch.allclose(grad[key], ref_grad[key], rtol=1e-8,
                              atol=1e-12), key
    assert torch.allclose(grad_x, ref_grad_x, rtol=1e-8, atol=1e-12)
    for (key, buf), ref in zip(efficient.state_dict().items(),
                               plain.state_dict().values()):
        assert torch.equal(buf, ref), key


def _mobilenet_unfreeze_bn(model):
    model.layer3[0].depthwise_conv.bn.requires_grad_(True)


def _mobilenet_hook(model):
    """A forward hook that scales a frozen conv's output (as a PEFT method's
    hook changes it), which the fast path would skip."""
    model.layer3[1].expand_conv.conv.register_forward_hook(
        lambda module, args, out: out * 1.5)


@pytest.mark.parametrize('edit', [_mobilenet_unfreeze_bn, _mobilenet_hook])
def test_mobilenet_v2_fast_path_falls_back(edit):
    """An inverted residual block the fast path cannot run as upstream runs
    it runs through plain autograd, with plain autograd's outputs and
    gradients."""
    efficient, plain = pair('mmdet-MobileNetV2')
    x = torch.randn(2, 3, 64, 64, dtype=torch.double)
    weights = [torch.ones(1)] * 4
    for model in (efficient, plain):
        model.train()
        edit(model)
    outs, grad, grad_x = grads(efficient, x, weights)
    ref_outs, ref_grad, ref_grad_x = grads(plain, x, weights)
    for out, ref in zip(outs, ref_outs):
        assert torch.equal(out, ref)
    assert grad.keys() == ref_grad.keys()
    for key in grad:
        assert torch.allclose(grad[key], ref_grad[key], rtol=1e-8,
                              atol=1e-12), key
    assert torch.allclose(grad_x, ref_grad_x, rtol=1e-8, atol=1e-12)


def test_mobilenet_v2_clipped_relu6_passes_no_gradient():
    """Where ReLU6 clips at 6 (large BN shifts make it clip often), the fast
    path's 1-bit masks pass no gradient, as plain autograd's ReLU6 does."""
    efficient, plain = pair('mmdet-MobileNetV2')
    torch.manual_seed(1)
    shifts = {name: torch.randn_like(bn.bias) * 8
              for name, bn in plain.named_modules()
              if isinstance(bn, nn.BatchNorm2d)}
    clipped = []
    for model in (efficient, plain):
        for name, bn in model.named_modules():
            if name in shifts:
                bn.bias.data.copy_(shifts[name])
        model.train()
    for module in plain.modules():
        if isinstance(module, nn.ReLU6):
            module.register_forward_hook(
                lambda m, args, out: clipped.append(int(out.eq(6).sum())))
    x = torch.randn(2, 3, 64, 64, dtype=torch.double)
    weights = [torch.ones(1)] * 4
    outs, grad, grad_x = grads(efficient, x, weights)
    ref_outs, ref_grad, ref_grad_x = grads(plain, x, weights)
    assert sum(clipped) > 0
    for out, ref in zip(outs, ref_outs):
        assert torch.equal(out, ref)
    for key in grad:
        assert torch.allclose(grad[key], ref_grad[key], rtol=1e-8,
                              atol=1e-12), key
    assert torch.allclose(grad_x, ref_grad_x, rtol=1e-8, atol=1e-12)


def test_swin_block_with_trainable_parameters_gets_gradients():
    efficient, plain = pair('mmdet-Swin', stages=(0, 1, 2, 3))
    x = torch.randn(2, 3, 64, 64, dtype=torch.double)
    weights = [torch.ones(1)] * 4
    for model in (efficient, plain):
        model.train()
        model.stages[1].blocks[0].ffn.requires_grad_(True)
    _, grad, _ = grads(efficient, x, weights)
    _, ref_grad, _ = grads(plain, x, weights)
    assert grad.keys() == ref_grad.keys()
    assert any('ffn' in key for key in grad)
    for key in grad:
        assert grad[key] is not None, key
        assert torch.allclose(grad[key], ref_grad[key], rtol=1e-8,
                              atol=1e-12), key


def test_channels_last_matches_plain_autograd():
    """A channels_last model and input get the gradients of plain autograd
    (on the CPU here, on CUDA in tests/test_cuda)."""
    efficient, plain = pair('mmdet-ResNet18', stages=(0, 2))
    efficient.to(memory_format=torch.channels_last)
    x = torch.randn(2, 3, 64, 64, dtype=torch.double)
    with torch.no_grad():
        weights = [torch.randn_like(o) for o in plain(x)]
    outs, grad, grad_x = grads(
        efficient, x.to(memory_format=torch.channels_last), weights)
    ref_outs, ref_grad, ref_grad_x = grads(plain, x, weights)
    for out, ref in zip(outs, ref_outs):
        assert torch.allclose(out, ref, rtol=1e-10, atol=1e-12)
    for key in grad:
        assert torch.allclose(grad[key], ref_grad[key], rtol=1e-8,
                              atol=1e-12), key
    assert torch.allclose(grad_x, ref_grad_x, rtol=1e-8, atol=1e-12)


def _saved(model, x):
    """Bytes autograd saves in a training forward of ``model`` (exact)."""
    model.train()
    exclude = list(model.parameters()) + list(model.buffers())
    saved, _ = saved_tensor_bytes(lambda: model(x), exclude)
    return saved


def _prompt_hidden_bytes(model, outs, strides):
    """Bytes of the hidden maps a prompt block keeps under plain autograd,
    from the shapes of the stage outputs (N, C, H, W) and the stages'
    ``strides``: three maps of ``hidden_channels``, the inputs of the
    depth-wise conv (at the stage input's size, ``stride`` times the
    output's: the prompt is computed from the stage input), of the
    activation and of the second projection (at the output's size). (Its
    input, which its first projection keeps, a checkpointed block keeps
    too.)"""
    total = 0
    for i, (out, stride) in enumerate(zip(outs, strides)):
        n, _, h, w = out.shape
        hidden = model.prompts[str(i)].hidden_channels
        total += out.element_size() * n * h * w * (stride**2 + 2) * hidden
    return total


def test_presets_keep_what_their_shapes_say_resnet50():
    """Real ResNet-50 at 2x3x128x128. The presets differ in the prompt
    blocks only: 'balanced' and 'speed' keep what plain autograd keeps of
    them, 'memory' recomputes them and keeps nothing of them."""
    x = torch.randn(2, 3, 128, 128)
    models = {
        preset: ProTuneResNet(depth=50, efficient_backward=preset)
        for preset in BACKWARD_PRESETS
    }
    saved = {preset: _saved(m, x) for preset, m in models.items()}
    with torch.no_grad():
        outs = models['memory'](x)
    assert saved['balanced'] == saved['speed']
    assert saved['balanced'] - saved['memory'] == \
        _prompt_hidden_bytes(models['memory'], outs, strides=(1, 2, 2, 2))


def _attention_bytes(swin, outs, blocks):
    """Bytes of the attention maps (N * L * heads * window**2 each, what
    softmax keeps) of the Swin blocks ``blocks`` ((stage, block) pairs)."""
    total = 0
    for i, stage in enumerate(swin.stages):
        n, _, h, w = outs[i].shape
        for j, block in enumerate(stage.blocks):
            if (i, j) in blocks:
                total += outs[i].element_size() * n * h * w * \
                    block.attn.w_msa.num_heads * block.attn.window_size**2
    return total


#: Swin-T's blocks that 'balanced' checkpoints, by hand: after stage 0's
#: prompt, a block of stage i saves in proportion to its tokens x channels,
#: 1/2 of one of stage i-1 (4x fewer tokens, 2x the channels): stage 1's
#: two blocks 1 each, stage 2's six 1/2, stage 3's two 1/4, 5.5 in all;
#: the earliest blocks until half of it (2.75): 1 + 1 + 1/2 + 1/2.
SWIN_T_BALANCED = {(1, 0), (1, 1), (2, 0), (2, 1)}


def test_presets_keep_what_their_shapes_say_swin_t():
    """Real Swin-T at 2x3x128x128: 'speed' keeps what plain autograd keeps;
    'balanced' checkpoints the earliest frozen blocks after the first
    prompt: it keeps at least the attention maps of those blocks less than
    'speed', and at least the prompts' hidden maps and the attention maps of
    the other blocks more than 'memory'."""
    x = torch.randn(2, 3, 128, 128)
    models = {
        preset: ProTuneSwinTransformer(efficient_backward=preset)
        for preset in (*BACKWARD_PRESETS, False)
    }
    saved = {preset: _saved(m, x) for preset, m in models.items()}
    with torch.no_grad():
        outs = models['memory'](x)
    swin = models['balanced']
    assert saved['speed'] == saved[False]
    after_prompt = {(i, j) for i, stage in enumerate(swin.stages) if i > 0
                    for j in range(len(stage.blocks))}
    checkpointed = _attention_bytes(swin, outs, SWIN_T_BALANCED)
    kept = _attention_bytes(swin, outs, after_prompt - SWIN_T_BALANCED)
    assert checkpointed > 0 and kept > 0
    assert saved['speed'] - saved['balanced'] >= checkpointed
    assert saved['balanced'] - saved['memory'] >= \
        _prompt_hidden_bytes(swin, outs, strides=(1, 1, 1, 1)) + kept


def _recomputed(model, x, blocks):
    """Which of ``blocks`` (name -> module) a training forward + backward of
    ``model`` starts twice: those activation checkpointing recomputes (it
    stops a recomputation once it has what backward needs, so a forward
    hook may not run the second time; a pre-hook does)."""
    calls = {name: 0 for name in blocks}
    hooks = [
        block.register_forward_pre_hook(
            lambda *_, name=name: calls.__setitem__(name, calls[name] + 1))
        for name, block in blocks.items()
    ]
    model.train()
    sum(out.sum() for out in model(x)).backward()
    for hook in hooks:
        hook.remove()
    assert set(calls.values()) <= {1, 2}
    return {name for name, count in calls.items() if count == 2}


def test_presets_checkpoint_the_earliest_blocks():
    """The blocks each preset recomputes, by hand (see
    :data:`SWIN_T_BALANCED`): all those after the first prompt
    ('memory'), the earliest until half of their bytes ('balanced'), none
    ('speed'); a ViT's blocks are all alike, so 'balanced' takes the first
    half of those after the first prompt."""
    x = torch.randn(1, 3, 64, 64)
    after_prompt = {(i, j) for i, depth in enumerate((2, 2, 6, 2)) if i > 0
                    for j in range(depth)}
    expected = dict(memory=after_prompt, balanced=SWIN_T_BALANCED,
                    speed=set())
    for preset in BACKWARD_PRESETS:
        model = ProTuneSwinTransformer(efficient_backward=preset)
        blocks = {(i, j): block for i, stage in enumerate(model.stages)
                  for j, block in enumerate(stage.blocks)}
        assert _recomputed(model, x, blocks) == expected[preset], preset
    vit = ClsProTuneVisionTransformer(
        arch=dict(embed_dims=16, num_layers=6, num_heads=2,
                  feedforward_channels=32),
        img_size=32, patch_size=8, out_type='featmap',
        efficient_backward='balanced')
    layers = dict(enumerate(vit.layers))
    # prompts after every layer: layers 1-5 pass a gradient, 5 alike
    assert _recomputed(vit, torch.randn(1, 3, 32, 32), layers) == {1, 2, 3}


@pytest.mark.parametrize('variant', sorted(VARIANTS))
@pytest.mark.parametrize('name', ['mmdet-ResNet18', 'mmdet-Swin'])
def test_variants_take_the_frozen_aware_path(name, variant):
    """No variant falls back to plain autograd: with 'memory' each keeps,
    as a fraction of what plain autograd keeps of it, at most 1.5 times the
    default's fraction (measured: at most 1.2 times; ResNet blocks or Swin
    blocks run by plain autograd make it 2.6 to 4 times)."""
    x = torch.randn(2, 3, 64, 64, dtype=torch.double)
    fractions = {}
    for key in (None, variant):
        efficient, plain = pair(name, variant=key)
        fractions[key] = _saved(efficient, x) / _saved(plain, x)
    assert fractions[variant] <= 1.5 * fractions[None]


@pytest.mark.parametrize('stride', [1, 2])
def test_pointwise_conv_input_gradient_allocates_one_input(stride):
    """A frozen 1x1 convolution's input gradient, on the fast path, is its
    one input-sized allocation (a transposed convolution on the CPU writes
    two: the highest point of the frozen ResNet-50's backward). By hand: the
    gradient of x, the BN-scaled weight and, with a stride, the product at
    the strided pixels before it is placed."""
    n, c_in, c_out, size = 2, 16, 8, 32
    conv = nn.Conv2d(c_in, c_out, 1, stride, bias=False).requires_grad_(False)
    norm = nn.BatchNorm2d(c_out).eval().requires_grad_(False)
    x = torch.randn(n, c_in, size, size, requires_grad=True)
    out = frozen_conv_affine(x, conv, norm)
    grad = torch.randn_like(out)
    peak, (grad_x, ) = peak_bytes(lambda: torch.autograd.grad(out, x, grad))
    strided = 4 * n * c_in * (size // stride)**2 if stride > 1 else 0
    assert peak == 4 * n * c_in * size**2 + 4 * c_out * c_in + strided
    with torch.enable_grad():
        reference = torch.autograd.grad(norm(conv(x)), x, grad)[0]
    assert torch.allclose(grad_x, reference, rtol=1e-5, atol=1e-6)
