"""Every config under configs/ (found by walking the folder) parses, builds
its real model and trains one iteration on the tiny synthetic data, and
freezes what its method says."""
import math
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from mmprotune.testing import make_ade20k_shapes, make_coco_shapes, tiny_config

CONFIG_DIR = Path(__file__).parents[2] / 'configs'
CONFIGS = sorted(
    p for p in CONFIG_DIR.rglob('*.py') if '_base_' not in p.parts)


def test_configs_are_found():
    assert len(CONFIGS) >= 18


@pytest.fixture(scope='module')
def data_roots(tmp_path_factory):
    root = tmp_path_factory.mktemp('data')
    make_coco_shapes(str(root / 'coco'), num_train=4, num_val=2, img_size=64)
    make_ade20k_shapes(str(root / 'ade'), num_train=4, num_val=2, img_size=64)
    return dict(mmdet=str(root / 'coco'), mmseg=str(root / 'ade'))


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


@pytest.mark.parametrize(
    'config', CONFIGS, ids=[str(p.relative_to(CONFIG_DIR)) for p in CONFIGS])
def test_config_trains_one_iteration(config, data_roots, tmp_path):
    cfg = Config.fromfile(str(config))
    cfg = tiny_config(cfg, data_roots[cfg.default_scope], str(tmp_path))
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert math.isfinite(runner.message_hub.get_scalar('train/loss').current())

    backbone = runner.model.backbone
    trainable = [n for n, p in backbone.named_parameters() if p.requires_grad]
    method = method_of(config)
    if method in PROMPTED_METHODS:
        assert trainable and all(n.startswith('prompts.') for n in trainable)
        assert type(backbone.prompts['0']).__name__.lower().startswith(
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
