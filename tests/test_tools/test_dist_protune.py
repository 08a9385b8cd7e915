"""tools/dist_train.sh with 2 CPU processes (gloo) trains our ResNet and Swin
Pro-tuning configs with DDP's find_unused_parameters=False into one
consistent checkpoint."""
import socket
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from mmprotune.testing import make_ade20k_shapes, make_coco_shapes, tiny_config

REPO = Path(__file__).parents[2]
CASES = {
    'resnet': ('configs/retinanet/retinanet_protune-r50_fpn_1x_coco.py',
               make_coco_shapes),
    'swin': ('configs/upernet/upernet_protune-swin-t-p4-w7_8xb2-160k_'
             'ade20k-512x512.py', make_ade20k_shapes),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.parametrize('name', sorted(CASES))
def test_two_process_training(name, tool, tmp_path):
    config, make_data = CASES[name]
    make_data(str(tmp_path / 'data'), num_train=4, num_val=2, img_size=64)
    work_dir = tmp_path / 'work'
    cfg = tiny_config(Config.fromfile(str(REPO / config)),
                      str(tmp_path / 'data'), str(work_dir), max_iters=2)
    cfg.find_unused_parameters = False
    if cfg.default_scope == 'mmseg':
        # SyncBN needs GPU modules under DDP; the README's override for CPU
        for head in ('decode_head', 'auxiliary_head'):
            cfg.model[head].norm_cfg = dict(type='BN', requires_grad=True)
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', by_epoch=False, interval=2)
    cfg_file = tmp_path / 'tiny.py'
    cfg.dump(str(cfg_file))
    rc, out = tool('tools/dist_train.sh', cfg_file, 2, cwd=tmp_path,
                   env=dict(PORT=str(free_port()), PYTHON=sys.executable),
                   timeout=600)
    assert rc == 0, out[-4000:]
    assert 'Distributed launcher: pytorch' in out
    state = torch.load(work_dir / 'iter_2.pth', map_location='cpu',
                       weights_only=False)['state_dict']
    prompts = [v for k, v in state.items()
               if k.startswith('backbone.prompts.') and k.endswith('up.weight')]
    assert prompts and any(p.abs().sum() > 0 for p in prompts)
    assert not any(k.startswith('module.') for k in state)
