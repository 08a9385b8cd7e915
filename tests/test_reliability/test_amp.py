"""Mixed precision: ``--amp`` on a CPU (bf16 autocast through
``BF16AutocastOptimWrapper``), bf16 Pro-tuning with the real Runner, and the
zero-init guarantee under autocast.

mmengine 0.10.7's ``AmpOptimWrapper`` asserts a GPU/NPU/MLU/MUSA device in
its ``__init__``, so ``tools/train.py --amp`` picks it only where CUDA is
available and ``BF16AutocastOptimWrapper`` elsewhere.
"""
import math
import re

import pytest
import torch
from mmdet.models.backbones import ResNet as DetResNet
from mmdet.models.backbones import SwinTransformer as DetSwin
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner
from mmengine.runner.amp import autocast
from mmseg.models.backbones import ResNetV1c as SegResNetV1c

from mmprotune.engine import BF16AutocastOptimWrapper
from mmprotune.models import (ProTuneResNet, ProTuneResNetV1c,
                              ProTuneSwinTransformer)
from mmprotune.testing import write_pretrained_checkpoint

RESNET = dict(depth=18, base_channels=8, stem_channels=8)
SWIN = dict(embed_dims=16, depths=(1, 1), num_heads=(1, 2), strides=(4, 2),
            out_indices=(0, 1), window_size=4)
ITERS = 4

cpu_only = pytest.mark.skipif(
    torch.cuda.is_available(), reason='checks what happens without a GPU')


@pytest.mark.parametrize('gpu_host', [False, True])
def test_bf16_wrapper_autocasts_the_forward_only(gpu_host, monkeypatch):
    """bf16 on the model's device, also where a GPU exists beside a model
    on the CPU (faked: mmengine's device-less autocast would pick CUDA)."""
    if gpu_host:
        import mmengine.runner.amp
        monkeypatch.setattr(mmengine.runner.amp, 'get_device', lambda: 'cuda')
    model = torch.nn.Linear(4, 4)
    wrapper = build_optim_wrapper(
        model, dict(type='BF16AutocastOptimWrapper',
                    optimizer=dict(type='SGD', lr=0.1)))
    assert isinstance(wrapper, BF16AutocastOptimWrapper)
    with wrapper.optim_context(model):
        out = model(torch.randn(2, 4))
    assert out.dtype == torch.bfloat16
    wrapper.update_params(out.float().sum())
    assert model.weight.dtype == torch.float32
    assert model(torch.randn(2, 4)).dtype == torch.float32  # outside


@pytest.mark.slow
@cpu_only
@pytest.mark.parametrize('scope', ['mmdet', 'mmseg'])
def test_train_py_amp_on_cpu_trains_in_bf16(scope, tiny_cfg, pretrained,
                                           tool, tmp_path):
    """``tools/train.py --amp`` without a GPU trains with bf16 autocast
    (mmengine's ``AmpOptimWrapper`` could not even be built) and logs finite
    losses."""
    config_file = tmp_path / f'tiny_{scope}.py'
    cfg = tiny_cfg(scope, tmp_path, max_iters=ITERS,
                   checkpoint=pretrained[scope], img_size=96)
    cfg.dump(str(config_file))
    rc, out = tool('tools/train.py', config_file, '--amp', '--work-dir',
                   tmp_path)
    assert rc == 0, out[-3000:]
    assert 'bf16 autocast (BF16AutocastOptimWrapper)' in out
    losses = [
        float(v)
        for v in re.findall(r'(?:Iter|Epoch)\(train\).* loss: (\S+)', out)
    ]
    assert len(losses) == ITERS, out[-3000:]
    assert all(math.isfinite(loss) for loss in losses), losses


def test_train_py_amp_refuses_a_config_with_amp(tiny_cfg, tool_main,
                                                tmp_path):
    config_file = tmp_path / 'tiny_retinanet_amp.py'
    cfg = tiny_cfg('mmdet', tmp_path)
    cfg.optim_wrapper.type = 'BF16AutocastOptimWrapper'
    cfg.dump(str(config_file))
    with pytest.raises(ValueError) as error:
        tool_main('tools/train.py', config_file, '--amp', '--work-dir',
                  tmp_path)
    assert ("the config has 'BF16AutocastOptimWrapper' (AMP is already "
            'enabled in the config)') in str(error.value)


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg'])
def test_bf16_autocast_protuning_stays_finite(scope, tiny_cfg, pretrained,
                                              tmp_path):
    # 96 px: at 64 px RetinaNet's last FPN conv (3x3, stride 2) gets a 1x1
    # input, whose bf16 weight gradient torch 2.13's oneDNN CPU kernel fills
    # with uninitialised memory (NaN at random; fp32 is fine)
    cfg = tiny_cfg(scope, tmp_path, max_iters=ITERS,
                   checkpoint=pretrained[scope], img_size=96)
    cfg.optim_wrapper.type = 'BF16AutocastOptimWrapper'
    cfg.optim_wrapper.optimizer.lr = 1e-3
    runner = Runner.from_cfg(cfg)
    prompts = runner.model.backbone.prompts
    outputs = []
    for block in prompts.values():
        block.register_forward_hook(
            lambda module, args, out: outputs.append(out.detach()))
    runner.train()

    losses = runner.message_hub.get_scalar('train/loss').data[0]
    assert len(losses) == ITERS
    assert all(math.isfinite(loss) for loss in losses), losses
    assert outputs and all(out.dtype == torch.bfloat16 for out in outputs)
    assert all(out.isfinite().all() for out in outputs)
    # the zero-initialised prompts came alive and stayed finite
    assert outputs[-1].abs().max() > 0
    for name, param in prompts.named_parameters():
        assert param.dtype == torch.float32, name
        assert param.isfinite().all(), name
    assert prompts['3'].up.weight.abs().sum() > 0


def _pair(wrapper_cls, upstream_cls, kwargs, tmp_path):
    """An upstream backbone with pretrained-style weights and its wrapper
    loaded from the same checkpoint."""
    upstream = upstream_cls(**kwargs)
    path = tmp_path / 'pretrained.pth'
    write_pretrained_checkpoint(upstream, path, prefix='backbone.')
    # mmdet's Swin reads only ``backbone.`` keys, and takes no ``prefix``
    prefix = {} if upstream_cls is DetSwin else dict(prefix='backbone.')
    wrapped = wrapper_cls(
        **kwargs,
        init_cfg=dict(type='Pretrained', checkpoint=str(path), **prefix))
    wrapped.init_weights()
    upstream.eval()  # (mmdet's ResNet.train returns None)
    return upstream, wrapped


@pytest.mark.parametrize('grad', [False, True], ids=['no_grad', 'grad'])
@pytest.mark.parametrize('amp', [True, False], ids=['bf16', 'fp32'])
@pytest.mark.parametrize('wrapper_cls, upstream_cls, kwargs', [
    (ProTuneResNet, DetResNet, RESNET),
    (ProTuneResNetV1c, SegResNetV1c, RESNET),
    (ProTuneSwinTransformer, DetSwin, SWIN),
], ids=['mmdet-ResNet', 'mmseg-ResNetV1c', 'mmdet-Swin'])
def test_zero_init_is_exact_under_autocast(wrapper_cls, upstream_cls, kwargs,
                                           amp, grad, tmp_path):
    """Step 0 (training mode, with and without autograd) under bf16
    autocast computes exactly what the non-prompted backbone computes under
    the same autocast; fp32 is the control."""
    upstream, wrapped = _pair(wrapper_cls, upstream_cls, kwargs, tmp_path)
    wrapped.train()
    x = torch.randn(2, 3, 64, 64)
    # the tensors are on the CPU: mmengine's ``autocast()`` without a
    # device would autocast CUDA on a GPU host, and this would test fp32
    with autocast(device_type='cpu', enabled=amp, dtype=torch.bfloat16):
        with torch.no_grad():
            expected = upstream(x)
        with torch.set_grad_enabled(grad):
            outs = wrapped(x)
    assert len(outs) == len(expected)
    if amp:  # the autocast was real
        assert {out.dtype for out in outs} == {torch.bfloat16}
    for out, ref in zip(outs, expected):
        assert out.dtype == ref.dtype
        assert torch.equal(out, ref)
    if grad:
        sum(out.float().sum() for out in outs).backward()
        up = wrapped.prompts['0'].up.weight.grad
        assert up is not None and up.isfinite().all() and up.abs().sum() > 0
