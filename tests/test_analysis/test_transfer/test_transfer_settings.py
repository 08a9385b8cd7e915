"""The transfer benchmark's catalogue and settings: the tracks' defaults
and configs, iterations per split, the training images a seed draws, and
the errors of bad settings."""
import functools
import os

import pytest
from mmengine.config import Config

from mmprotune.analysis.transfer.catalog import (BACKBONES, DESIGN_VARIANTS,
                                                 TASKS, backbone_methods,
                                                 config_path, default_methods)
from mmprotune.analysis.transfer.data import train_indices
from mmprotune.analysis.transfer.settings import (POOL_FACTOR,
                                                  transfer_settings)
from mmprotune.testing import TRANSFER_CONFIG_DIR


def test_tracks_defaults_and_configs():
    settings = transfer_settings(TRANSFER_CONFIG_DIR)
    assert (settings.backbone, settings.task, settings.out_dir) == (
        'resnet18', 'seg', 'work_dirs/transfer')
    settings = transfer_settings(TRANSFER_CONFIG_DIR, backbone='swin')
    assert settings.out_dir == 'work_dirs/transfer-swin'
    for backbone in BACKBONES:
        # by default every method of the track but training from scratch
        # and the design-study variants (both opt in); Pro-tuning and the
        # references of its paired differences first
        seg = transfer_settings(TRANSFER_CONFIG_DIR, backbone=backbone)
        assert seg.methods == [
            m for m in backbone_methods(backbone, 'seg')
            if m != 'scratch' and not m.startswith('protune-')
        ]
        assert seg.methods[:3] == ['full', 'head-only', 'protune']
        # the classification task: the same methods and source per
        # backbone, its own folder, configs and splits (see TASKS)
        cls = transfer_settings(TRANSFER_CONFIG_DIR, backbone=backbone,
                                task='cls')
        assert cls.out_dir == f'{seg.out_dir}-cls'
        assert (cls.methods, cls.pretrain, cls.seeds) == (
            seg.methods, seg.pretrain, seg.seeds)
        for settings, task in ((seg, 'seg'), (cls, 'cls')):
            splits = TASKS[task]['splits'][backbone]
            assert settings.iters == dict(
                zip(splits['train_sizes'], splits['iters']))
            # the pool: POOL_FACTOR times the largest split
            assert settings.pool_size == POOL_FACTOR * max(settings.iters)
    # every method, track and task: the same lr grid (log-spaced around the
    # configs' lr) and selection split; the smoke run tries fewer lrs
    tracks = [(transfer_settings(TRANSFER_CONFIG_DIR), 'protune'),
              (transfer_settings(TRANSFER_CONFIG_DIR, backbone='swin',
                                 task='cls'), 'vpt')]
    grid = tracks[0][0].lr_grid
    assert grid == sorted(set(grid))
    for settings, method in tracks:
        assert (settings.lr_grid, settings.num_select) == (
            grid, tracks[0][0].num_select)
        config = Config.fromfile(
            config_path(TRANSFER_CONFIG_DIR, method, settings.backbone,
                        settings.task))
        assert grid[0] < config.optim_wrapper.optimizer.lr < grid[-1]
    quick = transfer_settings(TRANSFER_CONFIG_DIR, quick=True).lr_grid
    assert set(quick) < set(grid)
    stems, configs, missing = set(), set(), set()
    for backbone in BACKBONES:
        for task in TASKS:
            for method in backbone_methods(backbone, task):
                config = config_path(TRANSFER_CONFIG_DIR, method, backbone,
                                     task)
                configs.add(config)
                if not os.path.isfile(config):
                    missing.add(os.path.basename(config))
        stems.add(BACKBONES[backbone]['checkpoint_stem'])
    assert len(stems) == len(BACKBONES)
    assert len(configs) == sum(
        len(backbone_methods(b, t)) for b in BACKBONES
        for t in TASKS)
    # the design-study variants: segmentation only, opt in
    for backbone in BACKBONES:
        assert {f'protune-{v}' for v in DESIGN_VARIANTS} <= set(
            backbone_methods(backbone, 'seg')) - set(
                default_methods(backbone, 'seg'))
        assert 'protune-block' not in backbone_methods(
            backbone, 'cls')
    # every listed config exists, and no config of the folder is left out
    # but the CamVid track's, which the catalog does not list
    assert not missing, missing
    assert configs == {
        os.path.join(TRANSFER_CONFIG_DIR, name)
        for name in os.listdir(TRANSFER_CONFIG_DIR)
        if name.endswith('.py') and not name.endswith('_camvid-240x320.py')
    }


def test_iterations_per_split():
    settings = functools.partial(transfer_settings, TRANSFER_CONFIG_DIR)
    assert settings(train_sizes=[50, 500], iters=[300, 900]).iters == {
        50: 300, 500: 900}
    assert settings(train_sizes=[50, 500], iters=[300]).iters == {
        50: 300, 500: 300}
    # a shipped split alone keeps its iterations
    shipped = settings().iters
    for size in shipped:
        assert settings(train_sizes=[size]).iters == {size: shipped[size]}
    with pytest.raises(ValueError, match='no shipped iterations for '
                       '--train-sizes 100'):
        settings(train_sizes=[100])


def test_seeds_draw_the_training_images():
    settings = transfer_settings(TRANSFER_CONFIG_DIR)
    select, pool = settings.num_select, settings.pool_size
    draws = {seed: train_indices(settings, 50, seed)
             for seed in range(3)}
    for images in draws.values():
        # after the selection images, within the pool
        assert len(set(images)) == 50
        assert select <= min(images) and max(images) < select + pool
    assert len({tuple(images) for images in draws.values()}) == 3
    assert train_indices(settings, 50, 1) == draws[1]
    # spread over the whole pool, not its first images
    assert max(train_indices(settings, pool // 2, 0)) > select + pool // 2
    # a run of the small split alone: the same pool, the same images (its
    # records serve the full study)
    small = transfer_settings(TRANSFER_CONFIG_DIR, train_sizes=[50])
    assert small.pool_size == pool
    assert train_indices(small, 50, 1) == draws[1]


@pytest.mark.parametrize('kwargs,message', [
    (dict(lr_grid=[1e-3, 1e-3]),
     '--lr-grid: expected distinct positive values, got 0.001,0.001'),
    (dict(lr_grid=[0, 1e-2]),
     '--lr-grid: expected distinct positive values, got 0,0.01'),
    (dict(backbone_lr_mults=[1, -0.1]),
     '--backbone-lr-mults: expected distinct positive values, got 1,-0.1'),
    (dict(train_sizes=[50], pool_size=40),
     r'--train-sizes: 50 images exceed the training pool \(--pool-size 40\)'),
])
def test_bad_protocol_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        transfer_settings(TRANSFER_CONFIG_DIR, **kwargs)
