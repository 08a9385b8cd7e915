"""mmdet's, mmseg's and mmpretrain's own tools/train.py (shipped in their
wheels) train our configs unchanged."""
import re
from pathlib import Path

import mmdet
import mmpretrain
import mmseg
import pytest
from mmengine.config import Config

from mmprotune.datasets import (make_ade20k_shapes, make_coco_shapes,
                                make_imagenet_shapes)
from mmprotune.testing import tiny_config

pytestmark = pytest.mark.slow

REPO = Path(__file__).parents[2]
CASES = {
    'mmdet': (mmdet, 'configs/retinanet/retinanet_protune-r50_fpn_1x_coco.py',
              make_coco_shapes),
    'mmseg': (mmseg,
              'configs/upernet/upernet_protune-swin-t-p4-w7_8xb2-160k_'
              'ade20k-512x512.py', make_ade20k_shapes),
    'mmpretrain': (mmpretrain, 'configs/image-classifier/image-classifier_'
                   'protune-r50_8xb32-100e_in1k.py', make_imagenet_shapes),
}


@pytest.mark.parametrize('scope', sorted(CASES))
def test_upstream_train_runs_our_config(scope, tool, tmp_path):
    package, config, make_data = CASES[scope]
    make_data(str(tmp_path / 'data'), num_train=4, num_val=2, img_size=64)
    cfg = tiny_config(
        Config.fromfile(str(REPO / config)), str(tmp_path / 'data'),
        str(tmp_path / 'work'), max_iters=2)
    cfg_file = tmp_path / 'tiny.py'
    cfg.dump(str(cfg_file))
    train = Path(package.__file__).parent / '.mim' / 'tools' / 'train.py'
    rc, out = tool(str(train), cfg_file, cwd=tmp_path, timeout=600)
    assert rc == 0, out[-3000:]
    assert '[2/2]' in out and 'loss:' in out
    assert re.search(r'trainable \((Conv|Token)PromptBlock\) of', out)
