"""The study's selection (:func:`mmprotune.analysis.transfer.study.run_all`):
a choice at an edge of the lr grid widens it, a tie does not, and the test
runs take the seeds after the selection's. The runs themselves are replaced
by a score of their lr (their training is tested in test_transfer_run.py
and the tools' tests)."""
import math

import pytest
import torch
from mmengine.config import Config

from mmprotune.analysis.transfer import study
from mmprotune.analysis.transfer.settings import transfer_settings
from mmprotune.testing import TRANSFER_CONFIG_DIR
from mmprotune.utils import build_model

pytestmark = pytest.mark.slow  # a Config and a model per run


def _study(tmp_path, monkeypatch, score, lr_grid, backbone_lr_mults=(1, )):
    """``run_all`` of Pro-tuning on the quick ResNet track, each run scored
    ``score(lr, backbone_lr_mult)``; returns ``(phase, lr, backbone lr
    multiplier, seed)`` of its runs."""
    settings = transfer_settings(TRANSFER_CONFIG_DIR, quick=True,
                                 methods=['protune'], lr_grid=lr_grid,
                                 backbone_lr_mults=list(backbone_lr_mults),
                                 seeds=2, out_dir=str(tmp_path))
    checkpoint = str(tmp_path / 'source.pth')
    model = build_model(Config.fromfile(settings.config('full')))
    torch.save(dict(state_dict=model.backbone.state_dict()), checkpoint)

    def run_once(cfg, task, predictions=None):
        keys = cfg.optim_wrapper.paramwise_cfg.custom_keys
        return dict(mIoU=score(cfg.optim_wrapper.optimizer.lr,
                               keys['backbone.prompts']['lr_mult']))

    monkeypatch.setattr(study, 'run_once', run_once)
    runs = study.run_all(settings, dict(checkpoint=checkpoint, summary=''),
                         dict(train={}, test={}), on_run=lambda *args: None)
    return [(r['phase'], r['lr'], r['backbone_lr_mult'], r['seed'])
            for r in runs]


def test_a_choice_at_the_top_widens_the_grid(tmp_path, monkeypatch):
    # best at 0.1, beyond the grid's top 1e-2: tried, then 1, which is worse
    runs = _study(tmp_path, monkeypatch,
                  lambda lr, mult: -abs(math.log10(lr) + 1), [1e-3, 1e-2])
    assert runs == [('select', 1e-3, 1, 0), ('select', 1e-2, 1, 0),
                    ('select', 0.1, 1, 0), ('select', 1.0, 1, 0),
                    ('test', 0.1, 1, 1), ('test', 0.1, 1, 2)]


def test_widening_tries_every_multiplier(tmp_path, monkeypatch):
    """The head gains from every larger lr, the prompts diverge above 1e-2
    (lr x multiplier): x1 is chosen at the grid's top, and only the widened
    lr at x0.1 finds the best setting (head at 0.1, prompts at 1e-2)."""

    def score(lr, mult):
        return math.log10(lr) + 0.1 * math.log10(lr * mult) \
            if lr * mult < 2e-2 else -10.0

    runs = _study(tmp_path, monkeypatch, score, [1e-3, 1e-2], (1, 0.1))
    assert runs == [('select', 1e-3, 1, 0), ('select', 1e-3, 0.1, 0),
                    ('select', 1e-2, 1, 0), ('select', 1e-2, 0.1, 0),
                    ('select', 0.1, 1, 0), ('select', 0.1, 0.1, 0),
                    ('select', 1.0, 1, 0), ('select', 1.0, 0.1, 0),
                    ('test', 0.1, 0.1, 1), ('test', 0.1, 0.1, 2)]


def test_widening_stops_after_three_steps(tmp_path, monkeypatch):
    # always better lower: 1e-4, 1e-5, 1e-6 below 3e-4 and 1e-3, then the
    # smallest is tested although it is still the edge
    runs = _study(tmp_path, monkeypatch, lambda lr, mult: -lr, [3e-4, 1e-3])
    lrs = [lr for phase, lr, _, _ in runs if phase == 'select']
    assert lrs == pytest.approx([3e-4, 1e-3, 9e-5, 2.7e-5, 8.1e-6])
    assert runs[-1] == ('test', pytest.approx(8.1e-6), 1, 2)


def test_a_tie_does_not_widen(tmp_path, monkeypatch):
    runs = _study(tmp_path, monkeypatch, lambda lr, mult: 50.0, [1e-3, 1e-2])
    assert runs == [('select', 1e-3, 1, 0), ('select', 1e-2, 1, 0),
                    ('test', 1e-3, 1, 1), ('test', 1e-3, 1, 2)]
