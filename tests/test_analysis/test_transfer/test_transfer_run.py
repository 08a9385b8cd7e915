"""One run's config (:func:`mmprotune.analysis.transfer.run.run_config`):
the learning rates the optimizer gets, and the backbone lr multiplier of
the methods that train backbone parameters."""
import pytest
import torch
from mmengine.config import Config

from mmprotune.analysis.transfer.catalog import (BACKBONES, backbone_methods,
                                                 backbone_tasks, config_path)
from mmprotune.analysis.transfer.run import run_config
from mmprotune.analysis.transfer.settings import transfer_settings
from mmprotune.analysis.transfer.study import (backbone_trainable,
                                               settings_grid)
from mmprotune.testing import TRANSFER_CONFIG_DIR
from mmprotune.testing.camvid import make_camvid
from mmprotune.utils import build_model


def _data(root) -> dict:
    """The dataset settings of a target folder ``root`` (what
    ``make_target_data`` returns for data made here)."""
    root = str(root)
    return dict(train=dict(data_root=root), test=dict(data_root=root))


@pytest.mark.parametrize('task', ['seg', 'cls'])
@pytest.mark.parametrize('method', ['full', 'vpt'])
def test_swin_track_learning_rates(tmp_path, method, task):
    """The Swin's own weights at 0.1x the lr, everything new at the lr: the
    config's 1e-2, and a grid's value set by ``run_config``."""
    from mmengine.optim import build_optim_wrapper
    config = config_path(TRANSFER_CONFIG_DIR, method, 'swin', task)
    configs = {1e-2: Config.fromfile(config)}
    configs[3e-3] = run_config(config, _data(tmp_path), 'unused', 3e-3, [0],
                               None, 0, 4, str(tmp_path / 'run'))
    for base, cfg in configs.items():
        model = build_model(cfg)
        optimizer = build_optim_wrapper(model, cfg.optim_wrapper)
        lr = {id(p): g['lr'] for g in optimizer.param_groups
              for p in g['params']}
        for name, param in model.named_parameters():
            if not param.requires_grad:
                continue
            own = name.startswith('backbone.') and \
                not name.startswith('backbone.prompts.')
            assert lr[id(param)] == pytest.approx(
                base / 10 if own else base), name


@pytest.mark.slow
def test_backbone_lr_mult_reaches_the_optimizer(tmp_path):
    """Whatever a run trains inside the backbone (full fine-tuning's
    pretrained weights, Pro-tuning's prompts) trains at lr x the
    multiplier, the head at the lr, in the param groups of the optimizer
    the Runner builds from the run's config. Which methods get the
    multiplier is read from what they train: every one but head-only
    (and scratch, which loads no checkpoint)."""
    from mmengine.optim import build_optim_wrapper
    checkpoint = str(tmp_path / 'source.pth')
    # the real track on a tiny CamVid folder: 1 selection image, 2 in the
    # pool
    camvid = dict(data_root=str(make_camvid(tmp_path / 'camvid')),
                  num_select=1, train_sizes=[2], iters=[4])
    for backbone in BACKBONES:
        task = backbone_tasks(backbone)[0]
        full = config_path(TRANSFER_CONFIG_DIR, 'full', backbone, task)
        source = build_model(Config.fromfile(full)).backbone
        torch.save(dict(state_dict=source.state_dict()), checkpoint)
        for method in backbone_methods(backbone, task):
            trains = backbone_trainable(
                config_path(TRANSFER_CONFIG_DIR, method, backbone, task))
            assert bool(trains) == (method not in ('head-only', 'scratch')
                                    ), method
        settings = transfer_settings(
            TRANSFER_CONFIG_DIR, backbone=backbone,
            methods=['full', 'head-only', 'protune'],
            backbone_lr_mults=[1, 0.1], lr_grid=[1e-3, 1e-2],
            **(camvid if task == 'camvid' else {}))
        for method in ('full', 'protune'):
            assert settings_grid(settings, method) == [
                (1e-3, 1.), (1e-3, 0.1), (1e-2, 1.), (1e-2, 0.1)]
        assert settings_grid(settings, 'head-only') == [(1e-3, None),
                                                        (1e-2, None)]
        for method in ('full', 'protune'):
            cfg = run_config(
                config_path(TRANSFER_CONFIG_DIR, method, backbone, task),
                _data(tmp_path),
                checkpoint, 3e-3, [0], [1], 0, 4, str(tmp_path / 'run'),
                backbone_lr_mult=0.25)
            model = build_model(cfg)
            optimizer = build_optim_wrapper(model, cfg.optim_wrapper)
            lr = {id(p): g['lr'] for g in optimizer.param_groups
                  for p in g['params']}
            slowed = []
            for name, param in model.named_parameters():
                if param.requires_grad:
                    inside = name.startswith('backbone.')
                    assert lr[id(param)] == pytest.approx(
                        3e-3 * 0.25 if inside else 3e-3), name
                    slowed.append(inside)
            assert any(slowed)  # pretrained weights or prompts
            assert not all(slowed)  # the head at the lr


@pytest.mark.slow
def test_run_stops_its_data_loader_workers(tmp_path):
    """A finished run leaves no data-loader worker alive (the CamVid
    configs' persistent workers otherwise live on with the Runner, GBs
    each in a long study)."""
    import multiprocessing

    from mmseg.models.backbones import MobileNetV2

    from mmprotune.analysis.transfer.run import run_once
    data = make_camvid(tmp_path / 'camvid')
    checkpoint = str(tmp_path / 'source.pth')
    torch.save(dict(state_dict=MobileNetV2().state_dict()), checkpoint)
    config = config_path(TRANSFER_CONFIG_DIR, 'protune', 'mobilenetv2',
                         'camvid')
    cfg = run_config(config, _data(data), checkpoint, 1e-3, [0, 1], [2], 0,
                     1, str(tmp_path / 'run'))
    assert cfg.train_dataloader.persistent_workers
    run_once(cfg, 'camvid')
    assert multiprocessing.active_children() == []
