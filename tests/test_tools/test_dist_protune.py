"""tools/dist_train.sh with 2 CPU processes (gloo) trains our ResNet and Swin
Pro-tuning configs with DDP's find_unused_parameters=False into one
consistent checkpoint."""
from pathlib import Path

import pytest
from mmengine.config import Config

from mmprotune.datasets import make_ade20k_shapes, make_coco_shapes
from mmprotune.testing import tiny_config
from mmprotune.testing.distributed import (checkpoint_state, ddp_config,
                                           dist_train, prompt_up_weights)

pytestmark = pytest.mark.slow

REPO = Path(__file__).parents[2]
CASES = {
    'resnet': ('configs/retinanet/retinanet_protune-r50_fpn_1x_coco.py',
               make_coco_shapes),
    'swin': ('configs/upernet/upernet_protune-swin-t-p4-w7_8xb2-160k_'
             'ade20k-512x512.py', make_ade20k_shapes),
}


@pytest.mark.parametrize('name', sorted(CASES))
def test_two_process_training(name, tmp_path):
    config, make_data = CASES[name]
    make_data(str(tmp_path / 'data'), num_train=4, num_val=2, img_size=64)
    work_dir = tmp_path / 'work'
    cfg = tiny_config(Config.fromfile(str(REPO / config)),
                      str(tmp_path / 'data'), str(work_dir), max_iters=2)
    rc, out = dist_train(ddp_config(cfg, 2), 2, tmp_path)
    assert rc == 0, out[-4000:]
    assert 'Distributed launcher: pytorch' in out
    state = checkpoint_state(work_dir / 'iter_2.pth')
    prompts = prompt_up_weights(state)
    assert prompts and any(p.abs().sum() > 0 for p in prompts)
    assert not any(k.startswith('module.') for k in state)
