"""Hooked PEFT methods survive the Runner's module swaps.

mmengine's Runner builds new BatchNorm modules: ``revert_sync_batchnorm``
(one process, turning an upstream mmseg config's SyncBN into BN) and
``convert_sync_batchnorm`` (``sync_bn`` under DDP). The hooked methods must
act on the new modules: after a few iterations every method parameter moved
(it got a gradient) and every frozen weight and BN statistic is exactly as
loaded."""
import copy
import os

import pytest
import torch
from mmengine.config import Config
from mmengine.model import convert_sync_batchnorm
from mmengine.runner import Runner
from mmseg.models.backbones import ResNetV1c

from mmprotune.datasets import make_ade20k_shapes
from mmprotune.testing import (REPO_ROOT, tiny_config,
                               write_pretrained_checkpoint)
from mmprotune.testing.distributed import (checkpoint_state, ddp_config,
                                            dist_train)
from mmprotune.testing.peft_cases import (HOOKED_CASES, IMG, METHODS as CASE_METHODS,
                                          build_pair, forward_all, perturb)

CONFIG = 'configs/upernet/upernet_protune-r50_4xb4-160k_ade20k-512x512.py'
RESNET = dict(depth=18, base_channels=8, stem_channels=8)
CHANNELS = [8, 16, 32, 64]
METHODS = {
    'BitFit': dict(type='BitFit'),  # hooks on the BNs themselves
    'Mona': dict(type='Mona', hidden_channels=4),  # hooks on the blocks
}


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp('swap')
    make_ade20k_shapes(str(root / 'ade'), num_train=4, num_val=1, img_size=64)
    loaded = write_pretrained_checkpoint(
        ResNetV1c(**RESNET), root / 'pretrained.pth')
    return root, loaded


def _runner(data, tmp_path, prompt_cfg, norm_type):
    """The UperNet Pro-tuning config (SyncBN backbone) on tiny data, with a
    ResNetV1c-18 and ``prompt_cfg``; ``norm_type`` for the backbone's
    norms."""
    root, _ = data
    cfg = tiny_config(
        Config.fromfile(os.path.join(REPO_ROOT, CONFIG)), str(root / 'ade'),
        str(tmp_path), max_iters=2, checkpoint=str(root / 'pretrained.pth'))
    assert cfg.model.backbone.norm_cfg.type == 'SyncBN'  # the upstream's
    cfg.model.backbone.update(RESNET, prompt_cfg=prompt_cfg)
    cfg.model.backbone.norm_cfg.type = norm_type
    cfg.model.decode_head.update(in_channels=CHANNELS, channels=16)
    cfg.model.auxiliary_head.update(in_channels=CHANNELS[2], channels=16)
    return Runner.from_cfg(cfg)


def _assert_trained(runner, loaded):
    """Every method parameter moved; every frozen backbone tensor is as
    loaded."""
    backbone = runner.model.backbone
    before = {k: v.detach().clone()
              for k, v in backbone.prompts.state_dict().items()}
    runner.train()
    after = backbone.prompts.state_dict()
    assert before
    for key in before:
        assert not torch.equal(before[key], after[key]), \
            f'prompts.{key} did not train'
    state = backbone.state_dict()
    frozen = [k for k in state if not k.startswith('prompts.')]
    assert sorted(frozen) == sorted(loaded)
    for key in frozen:
        assert torch.equal(state[key], loaded[key]), key


@pytest.mark.parametrize('method', sorted(METHODS))
def test_revert_sync_batchnorm(method, data, tmp_path):
    """One process: the Runner reverts the config's SyncBN to BN."""
    runner = _runner(data, tmp_path, METHODS[method], 'SyncBN')
    assert not any(isinstance(m, torch.nn.SyncBatchNorm)
                   for m in runner.model.modules())  # it was reverted
    _assert_trained(runner, data[1])


@pytest.mark.parametrize('method', sorted(METHODS))
def test_convert_sync_batchnorm(method, data, tmp_path):
    """``sync_bn='torch'``: what the Runner's ``wrap_model`` does under DDP,
    applied to the built model (SyncBN runs as BN without a process
    group)."""
    runner = _runner(data, tmp_path, METHODS[method], 'BN')
    convert_sync_batchnorm(runner.model, 'torch')
    assert isinstance(runner.model.backbone.layer1[0].norm1,
                      torch.nn.SyncBatchNorm)
    _assert_trained(runner, data[1])


def test_deepcopy_after_swap_keeps_step0_equality(data, tmp_path):
    """A copy of a swapped model hooks its own layers: with nonzero BitFit
    offsets, the copy and the original compute the same, and both differ
    from the frozen backbone alone."""
    runner = _runner(data, tmp_path, METHODS['BitFit'], 'SyncBN')
    backbone = runner.model.backbone
    backbone.init_weights()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        plain = backbone(x)
        for p in backbone.prompts.parameters():
            p.add_(0.5)
        tuned = backbone(x)
        copied = copy.deepcopy(backbone)(x)
    for a, b, c in zip(plain, tuned, copied):
        assert not torch.equal(a, b)
        assert torch.equal(b, c)


def _swap_hooked_modules(model):
    """Replace every upstream module that carries a hook by a hook-free copy
    (what the Runner's BN conversions do to BNs), children first."""
    names = [n for n, m in model.named_modules()
             if n and not n.startswith('prompts')
             and (m._forward_hooks or m._forward_pre_hooks)]
    for name in sorted(names, key=lambda n: -n.count('.')):
        old = model.get_submodule(name)
        new = copy.copy(old)  # the same parameters and children
        new.__dict__ = dict(old.__dict__)
        new._forward_hooks = type(old._forward_hooks)()
        new._forward_pre_hooks = type(old._forward_pre_hooks)()
        parent, _, child = name.rpartition('.')
        model.get_submodule(parent).add_module(child, new)
    return names


@pytest.mark.parametrize('case, method', HOOKED_CASES)
def test_every_hooked_method_survives_swaps(case, method, checkpoints):
    """Each hooked method in each wrapper: after its targets are swapped for
    hook-free modules, the output and the gradients are those of the
    unswapped model, and a second forward adds no hook twice."""
    _, wrapped = build_pair(case, checkpoints, CASE_METHODS[method])
    perturb(wrapped)
    wrapped.train()
    x = torch.randn(2, 3, IMG, IMG, generator=torch.Generator().manual_seed(0))
    results = []
    for swap in (False, True):
        if swap:
            assert _swap_hooked_modules(wrapped)
        wrapped.zero_grad(set_to_none=True)
        out = forward_all(wrapped, x)
        out.square().sum().backward()
        results.append((out.detach(),
                        [p.grad for p in wrapped.prompts.parameters()]))
    (out, grads), (swapped_out, swapped_grads) = results
    assert torch.equal(out, swapped_out)
    for g, h in zip(grads, swapped_grads):
        assert h is not None and torch.equal(g, h)
    counts = [len(m._forward_hooks) + len(m._forward_pre_hooks)
              for m in wrapped.modules()]
    forward_all(wrapped, x)
    assert counts == [len(m._forward_hooks) + len(m._forward_pre_hooks)
                      for m in wrapped.modules()]


@pytest.mark.skipif(not torch.cuda.is_available(),
                    reason='DDP refuses SyncBatchNorm in CPU modules')
def test_ddp_sync_bn_runner(data, tmp_path):
    """The real DDP path: ``tools/dist_train.sh`` with 1 GPU process over
    NCCL, ``sync_bn='torch'`` (``wrap_model`` turns every BN into a SyncBN)
    and ``find_unused_parameters=False``: BitFit trains, the frozen backbone
    stays as loaded (the UnusedParameterCheckHook of the config checks the
    first step too)."""
    root, loaded = data
    cfg = tiny_config(
        Config.fromfile(os.path.join(REPO_ROOT, CONFIG)), str(root / 'ade'),
        str(tmp_path / 'work'), max_iters=2,
        checkpoint=str(root / 'pretrained.pth'))
    cfg.model.backbone.update(RESNET, prompt_cfg=METHODS['BitFit'])
    cfg.model.backbone.norm_cfg.type = 'BN'
    cfg.model.decode_head.update(in_channels=CHANNELS, channels=16)
    cfg.model.auxiliary_head.update(in_channels=CHANNELS[2], channels=16)
    cfg.sync_bn = 'torch'
    rc, out = dist_train(ddp_config(cfg, 2, backend='nccl'), 1, tmp_path)
    assert rc == 0, out[-4000:]
    assert 'Distributed launcher: pytorch' in out
    state = checkpoint_state(tmp_path / 'work' / 'iter_2.pth')
    deltas = [k for k in state if k.startswith('backbone.prompts.')]
    assert deltas
    for key in deltas:
        assert state[key].abs().sum() > 0, key  # zero-initialised, trained
    for key, value in loaded.items():
        assert torch.equal(state['backbone.' + key], value), key
