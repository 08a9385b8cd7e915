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


def _study(tmp_path, monkeypatch, score, lr_grid):
    """``run_all`` of Pro-tuning on the quick ResNet track, each run scored
    ``score(lr)``; returns ``(phase, lr, seed)`` of its runs."""
    settings = transfer_settings(TRANSFER_CONFIG_DIR, quick=True,
                                 methods=['protune'], lr_grid=lr_grid,
                                 seeds=2, out_dir=str(tmp_path))
    checkpoint = str(tmp_path / 'source.pth')
    model = build_model(Config.fromfile(settings.config('full')))
    torch.save(dict(state_dict=model.backbone.state_dict()), checkpoint)

    def run_once(cfg, task, predictions=None):
        return dict(mIoU=score(cfg.optim_wrapper.optimizer.lr))

    monkeypatch.setattr(study, 'run_once', run_once)
    runs = study.run_all(settings, dict(checkpoint=checkpoint, summary=''),
                         dict(train={}, test={}), on_run=lambda *args: None)
    return [(r['phase'], r['lr'], r['seed']) for r in runs]


def test_a_choice_at_the_top_widens_the_grid(tmp_path, monkeypatch):
    # best at 0.1, beyond the grid's top 1e-2: tried, then 1, which is worse
    runs = _study(tmp_path, monkeypatch,
                  lambda lr: -abs(math.log10(lr) + 1), [1e-3, 1e-2])
    assert runs == [('select', 1e-3, 0), ('select', 1e-2, 0),
                    ('select', 0.1, 0), ('select', 1.0, 0),
                    ('test', 0.1, 1), ('test', 0.1, 2)]


def test_widening_stops_after_three_steps(tmp_path, monkeypatch):
    # always better lower: 1e-4, 1e-5, 1e-6 below 3e-4 and 1e-3, then the
    # smallest is tested although it is still the edge
    runs = _study(tmp_path, monkeypatch, lambda lr: -lr, [3e-4, 1e-3])
    lrs = [lr for phase, lr, _ in runs if phase == 'select']
    assert lrs == pytest.approx([3e-4, 1e-3, 9e-5, 2.7e-5, 8.1e-6])
    assert runs[-1] == ('test', pytest.approx(8.1e-6), 2)


def test_a_tie_does_not_widen(tmp_path, monkeypatch):
    runs = _study(tmp_path, monkeypatch, lambda lr: 50.0, [1e-3, 1e-2])
    assert runs == [('select', 1e-3, 0), ('select', 1e-2, 0),
                    ('test', 1e-3, 1), ('test', 1e-3, 2)]
