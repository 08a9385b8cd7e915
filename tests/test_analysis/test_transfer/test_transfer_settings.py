"""The transfer benchmark's catalogue and settings: the tracks' defaults
and configs, iterations per split, the training images a seed draws, and
the errors of bad settings."""
import functools
import itertools
import os

import pytest
from mmengine.config import Config

from mmprotune.analysis.transfer.catalog import (BACKBONES, DESIGN_VARIANTS,
                                                 SYNTHETIC_TRACKS, TASKS,
                                                 backbone_methods,
                                                 backbone_tasks, config_path,
                                                 default_methods)
from mmprotune.analysis.transfer.data import train_indices
from mmprotune.analysis.transfer.settings import (POOL_FACTOR,
                                                  transfer_settings)
from mmprotune.testing import TRANSFER_CONFIG_DIR
from mmprotune.testing.camvid import make_camvid


#: CamVid's training sequences and their frames (the real numbers).
CAMVID_SEQUENCES = {'0001TP': 62, '0006R0': 101, '0016E5': 204}


def _camvid_layout(root):
    """A CamVid-layout folder with CamVid's 367 training images (named as
    its sequences' frames) and 2 validation images, of 48 x 64 px."""
    return make_camvid(root, dict(
        train=[f'{seq}_{i:05d}' for seq, count in CAMVID_SEQUENCES.items()
               for i in range(count)],
        val=['0016E5_07959', '0016E5_08640']))


def test_tracks_defaults_and_configs(tmp_path):
    settings = transfer_settings(TRANSFER_CONFIG_DIR)
    assert (settings.backbone, settings.task, settings.out_dir) == (
        'resnet18', 'seg', 'work_dirs/transfer')
    settings = transfer_settings(TRANSFER_CONFIG_DIR, backbone='swin')
    assert settings.out_dir == 'work_dirs/transfer-swin'
    # the real track: its own task and folder, the ImageNet source, the
    # test split all of val, the pool every training image but the
    # selection's
    camvid = transfer_settings(TRANSFER_CONFIG_DIR, backbone='mobilenetv2',
                               data_root=str(_camvid_layout(tmp_path)))
    assert (camvid.task, camvid.out_dir, camvid.test_split) == (
        'camvid', 'work_dirs/transfer-camvid', 'val')
    assert camvid.source['weights'] == 'imagenet'
    assert camvid.methods == ['full', 'head-only', 'protune', 'bitfit', 'lora',
                              'conv-adapter', 'mona']
    assert (camvid.num_select, camvid.pool_size, camvid.num_val) == (
        67, 300, 2)
    for backbone in SYNTHETIC_TRACKS:
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
        assert (cls.methods, cls.source, cls.seeds) == (
            seg.methods, seg.source, seg.seeds)
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
        for task in backbone_tasks(backbone):
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
        for t in backbone_tasks(b))
    # the design-study variants: segmentation only, opt in, on the tracks
    # that have their configs
    for backbone, task in [(b, 'seg') for b in SYNTHETIC_TRACKS] + [
            ('mobilenetv2', 'camvid')]:
        variants = {f'protune-{v}' for v, tracks in DESIGN_VARIANTS.items()
                    if backbone in tracks}
        assert variants and variants <= set(
            backbone_methods(backbone, task)) - set(
                default_methods(backbone, task))
    assert 'protune-block' not in backbone_methods('resnet18', 'cls')
    assert 'protune-block' not in backbone_methods('mobilenetv2', 'raccoon')
    assert 'protune-all' not in backbone_methods('resnet18', 'seg')
    # every listed config exists, and no config of the folder is left out
    assert not missing, missing
    assert configs == {
        os.path.join(TRANSFER_CONFIG_DIR, name)
        for name in os.listdir(TRANSFER_CONFIG_DIR) if name.endswith('.py')
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


def test_camvid_splits(tmp_path):
    """The selection split: each sequence's first frames, by its share of
    the training images; the pool: the others; a seed's training images
    are drawn from the pool."""
    from mmprotune.analysis.transfer.data import pool_indices, select_indices
    settings = transfer_settings(TRANSFER_CONFIG_DIR, backbone='mobilenetv2',
                                 data_root=str(_camvid_layout(tmp_path)))
    select = select_indices(settings)
    # each sequence's first index in the sorted training list
    starts = dict(zip(CAMVID_SEQUENCES, itertools.accumulate(
        [0, *CAMVID_SEQUENCES.values()])))
    # 67 of 367: 11.3, 18.4 and 37.2 images; the largest remainder (18.4)
    # takes the one left
    expected = [starts[seq] + i for seq, n in
                (('0001TP', 11), ('0006R0', 19), ('0016E5', 37))
                for i in range(n)]
    assert select == expected
    pool = pool_indices(settings)
    assert sorted(pool + select) == list(range(367))
    for seed in (1, 2):
        assert set(train_indices(settings, 50, seed)) <= set(pool)
    assert sorted(train_indices(settings, 300, 1)) == pool


def test_real_data_options_are_checked(tmp_path):
    root = str(_camvid_layout(tmp_path))
    camvid = functools.partial(transfer_settings, TRANSFER_CONFIG_DIR,
                               backbone='mobilenetv2')
    with pytest.raises(ValueError, match='--data-root: --task camvid trains '
                       'on real data'):
        camvid()
    with pytest.raises(ValueError, match="--test-split: unknown split 'x'"):
        camvid(data_root=root, test_split='x')
    # the official test split is not there
    with pytest.raises(ValueError, match='has no folder test/'):
        camvid(data_root=root, test_split='test')
    with pytest.raises(ValueError, match='--num-val: --task camvid tests on '
                       'every image'):
        camvid(data_root=root, num_val=5)
    with pytest.raises(ValueError, match='--pool-size: 301 images exceed the '
                       '300 training images'):
        camvid(data_root=root, pool_size=301)
    with pytest.raises(ValueError, match='--data-root: --task seg makes its '
                       'own data'):
        transfer_settings(TRANSFER_CONFIG_DIR, data_root=root)
    with pytest.raises(ValueError, match='--task seg has no configs for '
                       '--backbone mobilenetv2; allowed: camvid'):
        camvid(task='seg', data_root=root)


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
