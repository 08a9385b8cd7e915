"""``tools/test.py --show-dir DIR`` on our configs, in every scope: a picture
per test image, with the predictions drawn (boxes and masks by mmdet's
``DetVisualizationHook``, the segmentation map by mmseg's
``SegVisualizationHook``, the predicted class by mmpretrain's
``VisualizationHook``)."""
from pathlib import Path

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmprotune.datasets import (SHAPE_CLASSES, make_ade20k_shapes,
                                make_coco_shapes, make_imagenet_shapes)
from mmprotune.testing import tiny_config
from mmprotune.utils import build_model

pytestmark = pytest.mark.slow

REPO = Path(__file__).parents[2]
NUM_VAL = 3
IMG_SIZE = 64
CASES = {
    'mmdet': ('configs/mask-rcnn/mask-rcnn_protune-r50_fpn_1x_coco.py',
              make_coco_shapes),
    'mmseg': ('configs/upernet/upernet_protune-r50_4xb4-160k_'
              'ade20k-512x512.py', make_ade20k_shapes),
    'mmpretrain': ('configs/image-classifier/image-classifier_protune-r50_'
                   '8xb32-100e_in1k.py', make_imagenet_shapes),
}


def tiny_test_config(config: str, data_root: Path, work_dir: Path) -> Config:
    """``config`` on the tiny data of ``data_root``: :func:`tiny_config`, and
    its test split (the validation images) at ``IMG_SIZE`` px."""
    original = Config.fromfile(str(REPO / config))
    if original.default_scope == 'mmpretrain':  # its test split is val/
        return tiny_config(
            original, str(data_root), str(work_dir), validate=True)
    cfg = tiny_config(original, str(data_root), str(work_dir))
    cfg.test_dataloader = original.test_dataloader
    cfg.test_dataloader.update(num_workers=0, persistent_workers=False)
    dataset = cfg.test_dataloader.dataset
    dataset.data_root = str(data_root)
    for transform in dataset.pipeline:
        if transform['type'] == 'Resize':
            transform['scale'] = (IMG_SIZE, IMG_SIZE)
    cfg.test_cfg = original.test_cfg
    cfg.test_evaluator = original.test_evaluator
    if cfg.default_scope == 'mmdet':
        dataset.metainfo = dict(classes=SHAPE_CLASSES)
        cfg.test_evaluator.ann_file = str(
            data_root / 'annotations' / 'instances_val2017.json')
        heads = cfg.model.roi_head
        heads.bbox_head.num_classes = heads.mask_head.num_classes = len(
            SHAPE_CLASSES)
        # untrained heads score every class about equally (~0.25): draw
        # them all rather than none
        cfg.default_hooks.visualization.score_thr = 0.0
    return cfg


def is_drawn(picture: np.ndarray, image: np.ndarray,
             min_changed: float = 0.05) -> bool:
    """The predictions are drawn on ``image`` in ``picture``: its last
    panel (mmdet puts the ground truth left of the predictions) is the size
    of ``image``, and at least ``min_changed`` of its pixels changed by more
    than JPEG noise."""
    height, width = image.shape[:2]
    assert picture.shape[0] == height and picture.shape[1] % width == 0
    drawn = picture[:, -width:]
    changed = np.abs(drawn.astype(int) - image.astype(int)).max(-1) > 40
    return changed.mean() > min_changed


@pytest.mark.parametrize('scope', sorted(CASES))
def test_show_dir_draws_every_test_image(scope, tool, tmp_path):
    config, make_data = CASES[scope]
    data_root = tmp_path / 'data'
    make_data(str(data_root), 2, NUM_VAL, img_size=IMG_SIZE, seed=0)
    cfg = tiny_test_config(config, data_root, tmp_path / 'work')
    cfg_file = tmp_path / 'tiny.py'
    cfg.dump(str(cfg_file))
    # nothing trained: the weights the model is initialised with
    checkpoint = tmp_path / 'init.pth'
    torch.save(dict(state_dict=build_model(cfg).state_dict()), checkpoint)

    show_dir = tmp_path / 'show'
    rc, out = tool('tools/test.py', cfg_file, checkpoint, '--show-dir',
                   show_dir, cwd=tmp_path)
    assert rc == 0, out[-5000:]
    min_changed = 0.05
    if scope == 'mmdet':
        val_dir = data_root / 'val2017'
        pictures = {p.name: p for p in show_dir.glob('*.jpg')}
    elif scope == 'mmpretrain':  # <img>_<step>.png, the class as text
        val_dir = data_root / 'val'
        pictures = {
            p.name.rsplit('_', 1)[0]: p
            for p in show_dir.glob('*.png')
        }
        min_changed = 0.005
    else:  # SegLocalVisualizer: <save_dir>/vis_data/vis_image/test_<img>_0
        val_dir = data_root / 'images' / 'validation'
        pictures = {
            p.name[len('test_'):].rsplit('_', 1)[0]: p
            for p in show_dir.glob('vis_data/vis_image/test_*.png')
        }
    images = sorted(p.name for p in val_dir.iterdir())
    assert len(images) == NUM_VAL
    assert sorted(pictures) == images
    for name in images:
        picture = mmcv.imread(str(pictures[name]))
        assert is_drawn(picture, mmcv.imread(str(val_dir / name)),
                        min_changed), name
