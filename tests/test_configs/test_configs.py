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
#: Pro-tuning and the PEFT baselines of ``mmprotune.models.peft_blocks``.
PROMPTED_METHODS = ('protune', 'bitfit', 'lora', 'adaptformer',
                    'convadapter', 'mona', 'vpt')


def method_of(config: Path) -> str:
    backbone_field = config.stem.split('_')[1]
    return backbone_field.split('-')[0]


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
            method if method != 'protune' else ('conv', 'token'))
    elif method == 'frozen':
        assert trainable == []
    elif method in ('finetune', 'scratch'):
        frozen_stages = cfg.model.backbone.get('frozen_stages', -1)
        assert len(trainable) > 0.5 * len(list(backbone.parameters()))
        assert not any(n.startswith(f'layer{frozen_stages}.')
                       for n in trainable) or frozen_stages < 1
    else:
        assert method in (*PROMPTED_METHODS, 'frozen', 'finetune',
                          'scratch') or \
            config.parent.name == 'demo', method
