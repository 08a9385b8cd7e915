"""The transfer benchmark's report (:mod:`mmprotune.analysis.transfer.report`)
on stand-in runs: the markdown tables (seed statistics, selection, paired
differences, Pareto front, lr at the grid's edge) and ``transfer.json``
with plain numbers."""
import json
import os

import pytest

from mmprotune.analysis.transfer.report import markdown, write_report
from mmprotune.analysis.transfer.settings import transfer_settings
from mmprotune.analysis.transfer.stats import (paired, pareto, pareto_front,
                                               selection, summarize)
from mmprotune.testing import TRANSFER_CONFIG_DIR


def _runs_of(method, phase, lr, values, **figures):
    """Stand-in runs of ``method``, one per value (seeds 0, 1, ...)."""
    figures.setdefault('peak_train_bytes', 3 * 2**20)
    return [dict(train_size=50, method=method, phase=phase, lr=lr,
                 seed=seed, mIoU=value, step_s=0.1 * (seed + 1),
                 trainable_params=10, backbone_trainable_params=4,
                 saved_bytes=2**20, checkpoint_bytes=2**20, **figures)
            for seed, value in enumerate(values)]


def _curve(*values):
    """A selection curve of ``values`` at iterations 10, 20, ..."""
    return [dict(iter=10 * (i + 1), mIoU=v) for i, v in enumerate(values)]


def test_summary_selection_and_paired_differences():
    runs = (_runs_of('head-only', 'select', 1e-3, [30],
                     curve=_curve(29, 30)) +
            _runs_of('head-only', 'select', 1e-2, [30],
                     curve=_curve(10, 30)) +  # a tie
            _runs_of('head-only', 'test', 1e-3, [52, 53, 57]) +
            _runs_of('protune', 'select', 1e-3, [40], curve=_curve(20, 40)) +
            _runs_of('protune', 'select', 1e-2, [45],
                     curve=_curve(41, 44.5, 45)) +
            _runs_of('protune', 'test', 1e-2, [60, 64, 68]) +
            # a method with pretrained weights: its lr and multiplier
            # chosen jointly
            _runs_of('full', 'select', 1e-3, [50], backbone_lr_mult=1.,
                     curve=_curve(30, 50)) +
            _runs_of('full', 'select', 1e-3, [47], backbone_lr_mult=0.1,
                     curve=_curve(46, 47)) +
            _runs_of('full', 'select', 1e-2, [20], backbone_lr_mult=1.,
                     curve=_curve(20, 20)) +
            _runs_of('full', 'select', 1e-2, [49], backbone_lr_mult=0.1,
                     curve=_curve(44, 49)) +
            _runs_of('full', 'test', 1e-3, [61, 62, 63],
                     backbone_lr_mult=1.))
    table = summarize(runs)  # the test runs only
    s = table[50]['protune']
    assert s['mean'] == 64 and s['std'] == 4 and s['lr'] == 1e-2
    assert s['seeds'] == [60, 64, 68] and s['step_s'] == 0.2
    assert table[50]['head-only']['mean'] == 54
    choices = selection(runs)
    # the chosen lr's curve: gains 0.5 over 44.5 (< 1: flat)
    assert choices[50]['protune'] == dict(
        scores={'0.001': 40, '0.01': 45}, lr=1e-2, backbone_lr_mult=None,
        curve=[[10, 41], [20, 44.5], [30, 45]], gain=0.5,
        still_improving=False, lr_at_edge='top')
    # of equal: the smaller lr, whose curve gains 1 (still improving)
    assert choices[50]['head-only']['lr'] == 1e-3
    assert choices[50]['head-only']['still_improving'] is True
    assert choices[50]['full']['scores'] == {
        '0.001x1': 50, '0.001x0.1': 47, '0.01x1': 20, '0.01x0.1': 49}
    assert (choices[50]['full']['lr'],
            choices[50]['full']['backbone_lr_mult']) == (1e-3, 1.)
    assert choices[50]['full']['gain'] == 20
    # seed by seed: 60-52, 64-53, 68-57
    diff = paired(runs)[50]['head-only']
    assert diff['diffs'] == [8, 11, 11] and diff['mean'] == 10
    assert diff['std'] == pytest.approx(3**0.5)
    assert 'protune' not in paired(runs)[50]
    text = markdown(runs, iters={50: 100})
    assert '**50 training images, 100 iterations** (mIoU in % on the test ' \
        'split, mean ± sample std over seeds; lr chosen on the selection ' \
        'split; protune − it: mean [95% interval] of the paired seeds' in text
    assert '| protune | 0.01 | – | 64.0 ± 4.0 | 60.0 / 64.0 / 68.0 | ' \
        '+10.0 | – | 10 (4) | 200 ms | 3.0 MiB | 1.0 MiB | 1.00 MiB |' in text
    # 10 ± t(0.975, 2) sqrt(3) / sqrt(3): wholly above 0
    assert '| head-only (still improving) | 0.001 | – | 54.0 ± 2.6 | 52.0 / ' \
        '53.0 / 57.0 | +0.0 | +10.0 [+5.7, +14.3] above |' in text
    assert '| full (still improving) | 0.001 | 1 | 62.0 ± 1.0 |' in text
    assert '| method | backbone lr × | lr 0.001 | lr 0.01 | chosen curve: ' \
        'last gain |' in text
    assert '| head-only | – | **30.0** | 30.0 | +1.0 (still improving) |' \
        in text
    assert '| protune | – | 40.0 | **45.0** | +0.5 (flat) |' in text
    assert '| full | 1 | **50.0** | 20.0 | +20.0 (still improving) |' in text
    assert '| full | 0.1 | 47.0 | 49.0 |  |' in text
    # every choice here is the grid's largest or smallest lr
    assert 'Chosen lr at an edge of the grid (the best may lie outside it; ' \
        'widen --lr-grid): head-only (bottom), protune (top), full ' \
        '(bottom).' in text
    # the same peak memory for all: none is lighter, all on the front
    assert 'Pareto front of test mIoU against peak training memory (no ' \
        'other method both more accurate and lighter): head-only, ' \
        'protune, full; protune is on it.' in text
    # another task's metric, under its name
    runs = [dict(run, top1=run['mIoU'] + 1,
                 curve=[dict(point, top1=point['mIoU'] + 1)
                        for point in run.get('curve', [])])
            for run in runs]
    assert summarize(runs, 'top1')[50]['protune']['seeds'] == [61, 65, 69]
    text = markdown(runs, iters={50: 100}, metric='top1',
                    metric_label='top-1 accuracy')
    assert '(top-1 accuracy in %' in text and '| top-1 accuracy |' in text
    assert '| protune | 0.01 | – | 65.0 ± 4.0 | 61.0 / 65.0 / 69.0 | ' \
        '+10.0 |' in text


def test_pareto_front():
    """No other method both more accurate and lighter; a tie in either
    keeps both on the front."""
    points = dict(
        full=(70., 300.),  # the most accurate
        mona=(65., 250.),
        lora=(60., 260.),  # mona: more accurate and lighter
        protune=(66., 120.),  # dominates mona too
        bitfit=(55., 120.),  # protune: as light, more accurate; stays
        head=(40., 100.),  # the lightest
        vpt=(39., 110.))  # head: both
    assert pareto_front(points) == ['full', 'protune', 'bitfit', 'head']
    assert pareto_front(dict(a=(1., 1.))) == ['a']
    # from the test runs: the mean over seeds and the peak memory
    runs = (_runs_of('protune', 'test', 1e-2, [60, 70],
                     peak_train_bytes=100) +
            _runs_of('full', 'test', 1e-2, [64, 65], peak_train_bytes=300) +
            _runs_of('mona', 'test', 1e-2, [66, 68], peak_train_bytes=200) +
            _runs_of('lora', 'select', 1e-2, [90], peak_train_bytes=50))
    assert pareto(runs) == {50: ['protune', 'mona']}
    text = markdown(runs, iters={50: 10})
    assert 'lighter): protune, mona; protune is on it.' in text
    runs = [dict(r, mIoU=r['mIoU'] + 5) if r['method'] == 'full' else r
            for r in runs]
    assert 'lighter): protune, full, mona; protune is on it.' in markdown(
        runs, iters={50: 10})
    runs = [dict(r, peak_train_bytes=250) if r['method'] == 'protune' else r
            for r in runs]
    # protune (65, 250) under mona (67, 200); full (69.5, 300) stays
    assert 'lighter): full, mona; protune is not on it (mona: more ' \
        'accurate and ' \
        'lighter).' in markdown(runs, iters={50: 10})


def test_chosen_lr_at_the_grid_edge():
    """Inside the grid: no flag; at its largest or smallest lr: flagged;
    a method tried at one lr (with two multipliers): no grid, no flag."""
    runs = (_runs_of('lora', 'select', 1e-3, [40]) +
            _runs_of('lora', 'select', 3e-3, [45]) +
            _runs_of('lora', 'select', 1e-2, [41]) +
            _runs_of('mona', 'select', 1e-3, [20]) +
            _runs_of('mona', 'select', 3e-3, [21]) +
            _runs_of('mona', 'select', 1e-2, [30]) +
            _runs_of('full', 'select', 1e-3, [50], backbone_lr_mult=1.) +
            _runs_of('full', 'select', 1e-3, [40], backbone_lr_mult=0.1))
    choices = selection(runs)[50]
    assert [choices[m]['lr_at_edge'] for m in ('lora', 'mona', 'full')] == \
        [None, 'top', None]
    text = markdown(runs, iters={50: 100})
    assert 'grid (the best may lie outside it; widen --lr-grid): ' \
        'mona (top).' in text


def test_report_holds_python_numbers(tmp_path):
    """Metrics arrive as numpy scalars (mmseg's IoUMetric gives np.float32
    under numpy 2): ``transfer.json`` is still written, with plain numbers,
    and no temporary file is left beside it."""
    import numpy as np
    settings = transfer_settings(TRANSFER_CONFIG_DIR, quick=True,
                                 out_dir=str(tmp_path))
    runs = _runs_of('protune', 'test', 1e-2,
                    [np.float32(50.25), np.float32(51.25)],
                    loss_curve=np.array([0.5, 0.25], dtype=np.float32))
    runs[0]['trainable_params'] = np.int64(10)
    write_report(settings, dict(summary='stand-in source'), runs,
                 total_s=np.float32(3.0), complete=True)
    report = json.loads((tmp_path / 'transfer.json').read_text())
    assert [r['mIoU'] for r in report['runs']] == [50.25, 51.25]
    assert report['runs'][0]['loss_curve'] == [0.5, 0.25]
    assert report['summary']['50']['protune']['mean'] == 50.75
    assert report['summary']['50']['protune']['trainable_params'] == 10
    assert os.listdir(tmp_path) == ['transfer.json']
