"""``mmprotune.utils.build_model``: the one way the tools and tests build a
config's model; ``check_scope`` names a wrong ``default_scope``."""
import pytest
import torch
from mmdet.models.backbones import ResNet
from mmengine.config import Config
from mmengine.hub import get_config

from mmprotune.testing import write_pretrained_checkpoint
from mmprotune.utils import SUPPORTED_SCOPES, build_model, check_scope


def tiny_detector(checkpoint: str) -> Config:
    """A RetinaNet whose ResNet-18/8 backbone names ``checkpoint``."""
    cfg = get_config('mmdet::retinanet/retinanet_r50_fpn_1x_coco.py')
    cfg.model.backbone = dict(
        type='ProTuneResNet', depth=18, base_channels=8,
        prompt_cfg=dict(hidden_channels=4),
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint))
    cfg.model.neck.update(in_channels=[8, 16, 32, 64], out_channels=16)
    cfg.model.bbox_head.update(in_channels=16, feat_channels=16,
                               stacked_convs=1)
    return cfg


def test_check_scope_names_the_scope_and_the_allowed_ones():
    for scope in SUPPORTED_SCOPES:
        assert check_scope(Config(dict(default_scope=scope))) == scope
    with pytest.raises(ValueError, match=r"default_scope 'mmfoo' in config "
                       r"x\.py; expected one of \('mmdet', 'mmseg', "
                       r"'mmpretrain'\)"):
        check_scope(Config(dict(default_scope='mmfoo')), 'x.py')
    with pytest.raises(ValueError, match='Unsupported default_scope None;'):
        build_model(Config(dict(model=dict(type='RetinaNet'))))


def test_build_model_loads_pretrained_weights_only_when_asked(tmp_path):
    torch.manual_seed(0)
    base = ResNet(depth=18, base_channels=8)
    checkpoint = tmp_path / 'resnet18.pth'
    write_pretrained_checkpoint(base, checkpoint)
    cfg = tiny_detector(str(checkpoint))

    model = build_model(cfg, pretrained=True)
    assert model.training
    assert torch.equal(model.backbone.conv1.weight, base.conv1.weight)
    # the config is left as it was
    assert cfg.model.backbone.init_cfg.checkpoint == str(checkpoint)

    random = build_model(cfg)
    assert not torch.equal(random.backbone.conv1.weight, base.conv1.weight)
    # nothing is read: a missing checkpoint is not an error
    cfg.model.backbone.init_cfg.checkpoint = str(tmp_path / 'missing.pth')
    assert build_model(cfg).backbone.conv1.weight.shape == (8, 3, 7, 7)
