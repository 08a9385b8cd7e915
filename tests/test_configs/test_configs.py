"""Every config under configs/ (found by walking the folder) parses, builds
its real model and trains one iteration on the tiny synthetic data, and
freezes what its method says; the classification configs also validate."""
import copy
import math
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import DefaultScope
from mmengine.registry import MODELS
from mmengine.runner import Runner

from mmprotune.datasets import (RACCOON_CLASSES, convert_raccoon,
                                make_ade20k_shapes, make_cifar_shapes,
                                make_coco_shapes, make_imagenet_shapes)
from mmprotune.testing import (make_raccoon, tiny_config,
                               write_pretrained_checkpoint)
from mmprotune.testing.camvid import make_camvid
from mmprotune.testing.runner_cases import assert_upstream_as_loaded
from mmprotune.utils import build_model

CONFIG_DIR = Path(__file__).parents[2] / 'configs'
CONFIGS = sorted(
    p for p in CONFIG_DIR.rglob('*.py') if '_base_' not in p.parts)


def test_configs_are_found():
    assert len(CONFIGS) >= 44


@pytest.fixture(scope='module')
def data_roots(tmp_path_factory):
    """Tiny data per dataset of the configs (:func:`data_key`).
    mmpretrain's ``CIFAR100`` checks its files against the MD5 sums of the
    real archive: pointed at the synthetic files' sums for this module."""
    from mmpretrain.datasets import CIFAR100
    root = tmp_path_factory.mktemp('data')
    make_coco_shapes(str(root / 'coco'), num_train=4, num_val=2, img_size=64)
    make_ade20k_shapes(str(root / 'ade'), num_train=4, num_val=2, img_size=64)
    make_imagenet_shapes(
        str(root / 'imagenet'), num_train=4, num_val=2, img_size=64)
    make_camvid(root / 'camvid')
    raccoon = make_raccoon(root / 'raccoon', num_train=4, num_test=2)
    convert_raccoon(str(raccoon), str(raccoon / 'coco'))
    md5 = make_cifar_shapes(str(root / 'cifar'), num_train=4,
                            num_val=2)['md5']
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(CIFAR100, 'train_list', [['train', md5['train']]])
        patch.setattr(CIFAR100, 'test_list', [['test', md5['test']]])
        patch.setattr(CIFAR100, 'meta', dict(CIFAR100.meta, md5=md5['meta']))
        yield dict(
            mmdet=str(root / 'coco'),
            mmseg=str(root / 'ade'),
            ImageNet=str(root / 'imagenet'),
            CustomDataset=str(root / 'imagenet'),  # the same layout
            CamVidDataset=str(root / 'camvid'),
            raccoon=str(raccoon),
            CIFAR100=str(root / 'cifar'))


def data_key(cfg: Config) -> str:
    """The key of a config's tiny data in ``data_roots``: its scope for
    mmdet and mmseg, the dataset type for mmpretrain and CamVid,
    ``raccoon`` for the raccoon configs (its classes)."""
    dataset = cfg.train_dataloader.dataset
    if cfg.default_scope == 'mmpretrain' or dataset.type == 'CamVidDataset':
        return dataset.type
    if tuple(dataset.get('metainfo', {}).get('classes', ())) == \
            RACCOON_CLASSES:
        return 'raccoon'
    return cfg.default_scope


#: Config-name methods that tune the frozen backbone through ``prompts``:
#: Pro-tuning and the PEFT baselines.
PROMPTED_METHODS = ('protune', 'bitfit', 'lora', 'adaptformer',
                    'conv-adapter', 'mona', 'vpt')
METHODS = (*PROMPTED_METHODS, 'head-only', 'full', 'scratch')


def method_of(config: Path) -> str:
    """The method that starts the backbone field of a config name, e.g.
    ``head-only`` of ``retinanet_head-only-r50_fpn_1x_coco``."""
    backbone_field = config.stem.split('_')[1]
    return next((m for m in METHODS if backbone_field.startswith(f'{m}-')),
                backbone_field.split('-')[0])


class RecordHook(Hook):
    """Copies the model's state when training starts (after the weights are
    initialised) and keeps the validation metrics."""

    def before_train(self, runner) -> None:
        self.start = {
            k: v.clone()
            for k, v in runner.model.state_dict().items()
        }

    def after_val_epoch(self, runner, metrics=None) -> None:
        self.metrics = metrics


@pytest.mark.slow
@pytest.mark.parametrize(
    'config', CONFIGS, ids=[str(p.relative_to(CONFIG_DIR)) for p in CONFIGS])
def test_config_trains_one_iteration(config, data_roots, tmp_path):
    cfg = Config.fromfile(str(config))
    classification = cfg.default_scope == 'mmpretrain'
    data = data_roots[data_key(cfg)]
    # mmpretrain's Swin needs every stage's map at least as large as its
    # window: Swin-T's last (stride 32) and its 7x7 windows need 224 px
    backbone = cfg.model.backbone
    swin_t = backbone.type.endswith('SwinTransformer') and backbone.get(
        'window_size', 7) >= 7
    img_size = 224 if classification and swin_t else 64
    cfg = tiny_config(
        cfg, data, str(tmp_path), img_size=img_size, validate=classification)
    runner = Runner.from_cfg(cfg)
    record = RecordHook()
    runner.register_hook(record)
    runner.train()
    assert math.isfinite(runner.message_hub.get_scalar('train/loss').current())

    backbone = runner.model.backbone
    trainable = [n for n, p in backbone.named_parameters() if p.requires_grad]
    method = method_of(config)
    if method in PROMPTED_METHODS:
        assert trainable and all(n.startswith('prompts.') for n in trainable)
        _, first = next(backbone.tuning_modules())  # prompts['0'] or [0]
        assert type(first).__name__.lower().startswith(
            method.replace('-', '') if method != 'protune' else
            ('conv', 'token'))
    elif method == 'head-only':
        assert trainable == []
    elif method in ('full', 'scratch'):
        frozen_stages = cfg.model.backbone.get('frozen_stages', -1)
        assert len(trainable) > 0.5 * len(list(backbone.parameters()))
        assert not any(n.startswith(f'layer{frozen_stages}.')
                       for n in trainable) or frozen_stages < 1
    else:
        assert method in METHODS or \
            config.parent.name == 'demo', method

    if not classification:
        return
    # Classification: exactly the prompts and the head train, the frozen
    # backbone (weights and BN statistics) stays bit-identical, and the
    # validation of the config ran.
    end = runner.model.state_dict()
    trained = sorted(n for n, p in runner.model.named_parameters()
                     if p.requires_grad)
    assert any(n.startswith('head.') for n in trained)
    assert all(not torch.equal(record.start[n], end[n]) for n in trained
               if n.startswith('head.'))
    if method not in ('full', 'scratch'):
        assert all(n.startswith(('head.', 'backbone.prompts.'))
                   for n in trained), trained
        changed = [
            k for k, v in end.items() if k.startswith('backbone.')
            and not k.startswith('backbone.prompts.')
            and not torch.equal(record.start[k], v)
        ]
        assert changed == []
    assert {'accuracy/top1'} <= set(record.metrics)


CLS_CONFIGS = sorted(
    p for p in (CONFIG_DIR / 'image-classifier').glob('*_in1k.py')
    if 'head-only' not in p.stem)  # head-only loads as protune does


@pytest.mark.parametrize(
    'config', CLS_CONFIGS, ids=[p.stem for p in CLS_CONFIGS])
def test_classifier_loads_released_checkpoint_layout(config, tmp_path):
    """The classification configs load their backbone from a whole-classifier
    checkpoint (mmpretrain's releases: ``backbone.*`` and ``head.*`` keys)
    through ``init_cfg.prefix='backbone'``: every backbone weight and BN
    statistic comes from the file (here a local one of that layout)."""
    cfg = Config.fromfile(str(config))
    released = copy.deepcopy(cfg)
    released.model.backbone.type = cfg.model.backbone.type.replace(
        'ProTune', '')
    released.model.backbone.pop('prompt_cfg', None)
    path = tmp_path / 'release.pth'
    saved = write_pretrained_checkpoint(build_model(released), path)
    assert any(k.startswith('head.') for k in saved)
    cfg.model.backbone.init_cfg.checkpoint = str(path)
    backbone = build_model(cfg, pretrained=True).backbone
    loaded = {
        k: v
        for k, v in backbone.state_dict().items()
        if not k.startswith('prompts.')
    }
    assert loaded and all(
        torch.equal(v, saved[f'backbone.{k}']) for k, v in loaded.items())


#: The real tracks' configs of the transfer benchmark: CamVid and raccoon.
TRACK_CONFIGS = {
    track: sorted(CONFIG_DIR.glob(f'transfer/*_{track}-*.py'))
    for track in ('camvid', 'raccoon')
}
REAL_CONFIGS = [p for configs in TRACK_CONFIGS.values() for p in configs]


@pytest.mark.parametrize('track', TRACK_CONFIGS)
def test_real_track_configs_are_found(track):
    """Every method, and on CamVid the design study's Pro-tuning variants."""
    variants = ['protune-all', 'protune-block', 'protune-output'
                ] if track == 'camvid' else []
    methods = [p.stem.split('_')[1].split('-mobilenet-v2')[0]
               for p in TRACK_CONFIGS[track]]
    assert sorted(methods) == sorted([
        'bitfit', 'conv-adapter', 'full', 'head-only', 'lora', 'mona',
        'protune', *variants
    ])


@pytest.mark.slow
@pytest.mark.parametrize(
    'config', REAL_CONFIGS, ids=[p.stem for p in REAL_CONFIGS])
def test_real_track_config_trains_from_checkpoint(config, data_roots,
                                                  tmp_path):
    """Each CamVid- and raccoon-track config trains 2 iterations on a tiny
    folder of its data's layout from a written MobileNetV2 checkpoint (of
    its scope) at its ``init_cfg``; the frozen backbones (head-only,
    Pro-tuning, the PEFT baselines) stay as loaded (weights and BN
    statistics), the fully fine-tuned one trains."""
    cfg = Config.fromfile(str(config))
    upstream = copy.deepcopy(cfg.model.backbone)
    upstream.type = 'MobileNetV2'
    upstream.pop('prompt_cfg', None)
    upstream.init_cfg = None
    path = tmp_path / 'mobilenet-v2.pth'
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        saved = write_pretrained_checkpoint(MODELS.build(upstream), path)
    cfg = tiny_config(cfg, data_roots[data_key(cfg)], str(tmp_path),
                      max_iters=2, checkpoint=str(path))
    runner = Runner.from_cfg(cfg)
    record = RecordHook()
    runner.register_hook(record)
    runner.train()
    assert math.isfinite(runner.message_hub.get_scalar('train/loss').current())

    loaded = {f'backbone.{k}': v for k, v in saved.items()}
    assert_upstream_as_loaded(record.start, loaded)
    end = runner.model.state_dict()
    if method_of(config) == 'full':
        assert all(not torch.equal(end[k], v) for k, v in loaded.items()
                   if k.endswith(('weight', 'running_mean')))
    else:
        assert_upstream_as_loaded(end, loaded)
