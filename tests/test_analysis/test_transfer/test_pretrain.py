"""``tools/misc/pretrain_backbone.py`` (:func:`pretrain_backbone`) writes its
checkpoint atomically: a save that dies midway leaves the previous file."""
import os

import pytest
import torch

from mmprotune.analysis.transfer.catalog import config_path
from mmprotune.analysis.transfer.pretrain import (PretrainSettings,
                                                  build_backbone,
                                                  pretrain_backbone)
from mmprotune.analysis.transfer.settings import transfer_settings
from mmprotune.testing import TRANSFER_CONFIG_DIR

try:
    import resource
except ImportError:  # Windows
    resource = None


def _tiny(out):
    return PretrainSettings(out=str(out), base_channels=8, iters=2,
                            img_size=32, batch_size=4, num_images=8)


@pytest.mark.skipif(resource is None, reason='needs RLIMIT_FSIZE')
def test_pretrain_checkpoint_is_written_atomically(tmp_path):
    out = tmp_path / 'backbone.pth'
    pretrain_backbone(_tiny(out))
    before = out.read_bytes()
    first = os.stat(out).st_ino
    state = torch.load(out, weights_only=True)['state_dict']
    assert 'conv1.weight' in state and 'layer4.1.bn2.running_var' in state
    # a full disk (a file-size limit) while the next checkpoint is written
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (len(before) // 2, hard))
    try:
        with pytest.raises(OSError, match='File too large'):
            pretrain_backbone(_tiny(out))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert out.read_bytes() == before
    assert os.listdir(tmp_path) == [out.name]  # no temporary file left
    pretrain_backbone(_tiny(out))  # a new file renamed onto the old one
    assert os.stat(out).st_ino != first


def test_pretraining_prints_its_validation_curve(tmp_path, capsys):
    """A tenth of the schedule apart, the validation accuracy of the task
    (count accuracy here), the last one the summary's."""
    summary = pretrain_backbone(
        PretrainSettings(out=str(tmp_path / 'count.pth'), task='count',
                         base_channels=8, iters=20, img_size=32,
                         batch_size=4, num_images=20))
    lines = [line for line in capsys.readouterr().out.splitlines()
             if ' val: ' in line]
    assert [line.split()[1] for line in lines] == [
        f'{i}/20' for i in range(2, 21, 2)]
    assert all(' val: count_acc ' in line for line in lines)
    assert summary.endswith(f'val count accuracy {lines[-1].split()[-1]}')


@pytest.mark.parametrize('backbone', ['resnet18', 'swin'])
def test_source_checkpoint_is_the_classifier_backbone(backbone):
    """The source backbone (mmdet ``ResNet`` / mmseg ``SwinTransformer``)
    loads strictly into the classification task's backbone (mmpretrain's)
    and computes the same features there: the classification track starts
    from exactly what was pretrained."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS

    settings = transfer_settings(TRANSFER_CONFIG_DIR, backbone=backbone,
                                 task='cls')
    args = PretrainSettings(**settings.source)
    source, _ = build_backbone(args, (2 if args.arch == 'swin' else 3, ))
    with torch.no_grad():  # BN statistics and weights away from their init
        for tensor in source.state_dict().values():
            if tensor.is_floating_point():
                tensor.add_(torch.rand_like(tensor).mul_(0.1))
    cfg = Config.fromfile(
        config_path(TRANSFER_CONFIG_DIR, 'full', backbone, 'cls'))
    cfg.model.backbone.init_cfg = None
    # the config's scope, whatever an earlier test left as the default
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        target = MODELS.build(cfg.model.backbone)
    target.load_state_dict(source.state_dict(), strict=True)
    images = torch.rand(2, 3, args.img_size, args.img_size)
    source.eval(), target.eval()
    with torch.no_grad():
        expected, actual = source(images)[-1], target(images)[-1]
    assert actual.shape == expected.shape
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)
