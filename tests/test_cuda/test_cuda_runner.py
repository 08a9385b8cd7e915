"""On a CUDA GPU (skipped without one), through the real Runner: DDP on one
GPU over NCCL with ``find_unused_parameters=False`` (``tools/dist_train.sh``,
as tests/test_tools/test_dist_protune.py runs it over gloo on CPUs), and a
delta checkpoint saved from a GPU run, then loaded and merged in a process
that sees no GPU."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmprotune.datasets import make_ade20k_shapes
from mmprotune.testing import tiny_config, write_pretrained_checkpoint
from mmprotune.testing.distributed import (checkpoint_state, ddp_config,
                                           dist_train, prompt_up_weights)

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason='needs a CUDA GPU')

REPO = Path(__file__).parents[2]
# mmseg configs: they need none of mmcv's compiled ops
DDP_CONFIGS = {
    'resnet': 'configs/upernet/upernet_protune-r50_4xb4-160k_ade20k-512x512.py',
    'swin': ('configs/upernet/upernet_protune-swin-t-p4-w7_8xb2-160k_'
             'ade20k-512x512.py'),
}
DELTA_CONFIG = ('configs/transfer/'
                'fcn_protune-r18-w16-d8_1xb16-500i_shapes-ade20k-64x64.py')


@pytest.mark.parametrize('name', sorted(DDP_CONFIGS))
def test_ddp_one_gpu_nccl(name, tmp_path):
    """The upstream configs' SyncBN runs as it is (a process group on a
    GPU); every trainable parameter is used
    (``find_unused_parameters=False``)."""
    make_ade20k_shapes(str(tmp_path / 'data'), num_train=4, num_val=2,
                       img_size=64)
    work_dir = tmp_path / 'work'
    cfg = tiny_config(Config.fromfile(str(REPO / DDP_CONFIGS[name])),
                      str(tmp_path / 'data'), str(work_dir), max_iters=2)
    rc, out = dist_train(ddp_config(cfg, 2, backend='nccl'), 1, tmp_path)
    assert rc == 0, out[-4000:]
    assert 'Distributed launcher: pytorch' in out
    prompts = prompt_up_weights(checkpoint_state(work_dir / 'iter_2.pth'))
    assert prompts and any(p.abs().sum() > 0 for p in prompts)


def test_delta_saved_on_gpu_loads_on_cpu(tool, tmp_path):
    from mmseg.models.backbones import ResNet

    make_ade20k_shapes(str(tmp_path / 'data'), num_train=4, num_val=2,
                       img_size=64)
    pretrained = tmp_path / 'resnet18-w16.pth'
    write_pretrained_checkpoint(
        ResNet(depth=18, stem_channels=16, base_channels=16), pretrained)
    work_dir = tmp_path / 'work'
    cfg = tiny_config(Config.fromfile(str(REPO / DELTA_CONFIG)),
                      str(tmp_path / 'data'), str(work_dir), max_iters=2,
                      checkpoint=str(pretrained))
    cfg.custom_imports = dict(
        imports=['mmprotune', 'mmprotune.engine.hooks'],
        allow_failed_imports=False)
    cfg.custom_hooks = [dict(type='DeltaCheckpointHook')]
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', by_epoch=False, interval=2)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert next(runner.model.parameters()).is_cuda
    state = {k: v.detach().cpu() for k, v in runner.model.state_dict().items()}
    cfg_file = tmp_path / 'tiny.py'
    cfg.dump(str(cfg_file))

    merged_file = tmp_path / 'merged.pth'
    rc, out = tool('tools/merge_delta.py', cfg_file, work_dir / 'iter_2.pth',
                   merged_file, cwd=tmp_path,
                   env=dict(CUDA_VISIBLE_DEVICES=''))
    assert rc == 0, out[-4000:]
    merged = torch.load(merged_file, map_location='cpu', weights_only=True)
    assert merged['state_dict'].keys() == state.keys()
    for key, value in state.items():
        assert torch.equal(merged['state_dict'][key], value), key
