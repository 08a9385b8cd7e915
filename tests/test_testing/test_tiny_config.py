"""tiny_config: what it refuses (the rest runs in every config test)."""
from pathlib import Path

import pytest
from mmengine.config import Config

from mmprotune.testing import tiny_config

CONFIGS = Path(__file__).parents[2] / 'configs'


def test_validate_refuses_evaluators_with_their_own_files(tmp_path):
    """mmdet's CocoMetric reads an annotation file that tiny_config does
    not move: validate=True says so instead of evaluating against it."""
    cfg = Config.fromfile(
        str(CONFIGS / 'retinanet/retinanet_protune-r50_fpn_1x_coco.py'))
    with pytest.raises(ValueError, match=r"val_evaluator \['CocoMetric'\]"):
        tiny_config(cfg, str(tmp_path), str(tmp_path), validate=True)
