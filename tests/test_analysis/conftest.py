"""Fixtures of the analysis tests."""
import pytest

from mmprotune.testing import REPO_ROOT

#: A tiny RetinaNet of the Pro-tuning config (ResNet-18 at width 8).
TINY = """
_base_ = '{base}'
model = dict(
    backbone=dict(depth=18, base_channels=8, stem_channels=8,
                  prompt_cfg=dict(hidden_channels=4)),
    neck=dict(in_channels=[8, 16, 32, 64], out_channels=16),
    bbox_head=dict(in_channels=16, feat_channels=16, stacked_convs=1))
"""


@pytest.fixture(scope='module')
def tiny_config(tmp_path_factory):
    """A tiny Pro-tuning RetinaNet config file (:data:`TINY`)."""
    path = tmp_path_factory.mktemp('cfg') / 'tiny_retinanet.py'
    path.write_text(TINY.format(base=f'{REPO_ROOT}/configs/retinanet/'
                                'retinanet_protune-r50_fpn_1x_coco.py'))
    return path
