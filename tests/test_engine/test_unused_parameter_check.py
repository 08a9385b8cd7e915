"""``UnusedParameterCheckHook`` with the real mmengine Runner: the transfer
benchmark's Pro-tuning FCN (ResNet-18, tiny data) trains one iteration; a
trainable parameter that gets no gradient is named, with its likely cause."""
import logging
import os
import re

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import HOOKS
from mmengine.runner import Runner

from mmprotune.datasets import make_ade20k_shapes
from mmprotune.engine.hooks import UnusedParameterCheckHook
from mmprotune.testing import REPO_ROOT, tiny_config

TRANSFER = 'configs/transfer/fcn_{}-r18-w16-d8_1xb16-500i_shapes-ade20k-64x64.py'
UPERNET = 'configs/upernet/upernet_protune-r50_4xb4-160k_ade20k-512x512.py'


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp('unused') / 'ade'
    make_ade20k_shapes(str(root), num_train=4, num_val=1, img_size=64)
    return str(root)


def _runner(data, tmp_path, method='protune', norm='BN', **hook):
    cfg = Config.fromfile(os.path.join(REPO_ROOT, TRANSFER.format(method)))
    # on by default in the configs (through the transfer schedule's base)
    assert dict(type='UnusedParameterCheckHook') in cfg.custom_hooks
    if hook:
        cfg.custom_hooks = [dict(type='UnusedParameterCheckHook', **hook)]
    cfg = tiny_config(cfg, data, str(tmp_path), max_iters=2)
    cfg.model.backbone.norm_cfg.type = norm
    if method == 'protune':
        cfg.model.backbone.prompt_cfg.hidden_channels = 4
    return Runner.from_cfg(cfg)


def test_registered_and_on_in_the_benchmark_configs():
    assert HOOKS.get('UnusedParameterCheckHook') is UnusedParameterCheckHook
    cfg = Config.fromfile(os.path.join(REPO_ROOT, UPERNET))
    assert dict(type='UnusedParameterCheckHook') in cfg.custom_hooks


@pytest.mark.parametrize('method', ['protune', 'bitfit'])
def test_normal_run_passes(method, data, tmp_path):
    runner = _runner(data, tmp_path, method)
    runner.train()
    assert runner.iter == 2


def test_unused_parameter_is_named(data, tmp_path):
    runner = _runner(data, tmp_path)
    runner.model.decode_head.spare = nn.Parameter(torch.zeros(3))
    with pytest.raises(RuntimeError) as info:
        runner.train()
    message = str(info.value)
    assert 'decode_head.spare' in message
    assert 'not reached from the loss' in message
    assert "action='warn'" in message
    assert 'backbone.prompts' not in message  # the used ones are not named
    assert runner.iter == 0  # stopped in the first iteration


@pytest.mark.slow
def test_swapped_hooked_module_is_named_with_its_cause(data, tmp_path):
    """BitFit on a SyncBN backbone whose hooks are lost to the Runner's
    SyncBN revert (the wrapper's re-hooking pre-hook taken away, as before
    it existed)."""
    runner = _runner(data, tmp_path, 'bitfit', norm='SyncBN')
    backbone = runner.model.backbone
    backbone._forward_pre_hooks.clear()
    with pytest.raises(RuntimeError) as info:
        runner.train()
    message = str(info.value)
    names = re.findall(r'backbone\.prompts\.\S+\.delta', message)
    assert len(names) == sum(1 for _ in backbone.prompts.parameters())
    assert 'lost its hook' in message
    assert 'backbone.layer1.0.bn1' in message  # the swapped target


@pytest.mark.slow
def test_warn_only(data, tmp_path):
    runner = _runner(data, tmp_path, action='warn')
    runner.model.decode_head.spare = nn.Parameter(torch.zeros(3))
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    MMLogger.get_current_instance().addHandler(handler)
    try:
        runner.train()
    finally:
        MMLogger.get_current_instance().removeHandler(handler)
    assert runner.iter == 2
    warned = [r.getMessage() for r in records
              if r.levelno == logging.WARNING
              and 'decode_head.spare' in r.getMessage()]
    assert len(warned) == 1  # the first iteration only


def test_bad_action():
    with pytest.raises(ValueError, match=r"action='stop'.*'raise', 'warn'"):
        UnusedParameterCheckHook(action='stop')
