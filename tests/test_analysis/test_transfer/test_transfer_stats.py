"""The transfer benchmark's statistics
(:mod:`mmprotune.analysis.transfer.stats`): the still-improving rule of a
selection curve, the choice of a setting, the paired differences with
their intervals and the per-class IoU."""
import pytest

from mmprotune.analysis.transfer.stats import (choose_setting, curve_gain,
                                               interval95, paired,
                                               still_improving, summarize,
                                               verdict)


def test_still_improving_rule():
    """Still improving: the last point gains at least 1 (point of the
    metric) over the best earlier one, not over the one before it."""
    curves = {
        (10, 20, 30, 40): True,  # +10
        (10, 20, 30, 30.9): False,  # +0.9
        (10, 20, 30, 31): True,  # exactly +1
        (10, 50, 30, 45): False,  # below an earlier peak
        (10, 50, 30, 50.5): False,  # +0.5 over the peak, +20.5 over 30
        (60, 50, 40, 30): False,  # falling
    }
    for curve, improving in curves.items():
        assert still_improving(list(curve)) is improving, curve
    assert curve_gain([10, 50, 30, 45]) == -5
    assert still_improving([42.]) is None and curve_gain([42.]) is None


def test_choose_setting():
    choose = choose_setting
    assert choose({(1e-2, None): 50., (1e-3, None): 60.,
                   (3e-3, None): 55.}) == (1e-3, None)
    assert choose({(1e-2, None): 60., (1e-3, None): 60.,
                   (3e-3, None): 55.}) == (1e-3, None)
    # lr and multiplier jointly; of equal scores the smaller lr, then mult
    assert choose({(1e-3, 1.): 50., (1e-3, 0.1): 52., (1e-2, 1.): 51.,
                   (1e-2, 0.1): 49.}) == (1e-3, 0.1)
    assert choose({(1e-3, 1.): 50., (1e-2, 0.1): 50., (1e-3, 0.1): 50.
                   }) == (1e-3, 0.1)


def _test_run(method, seed, miou, cpu, **extra):
    return dict(phase='test', train_size=50, method=method, seed=seed,
                mIoU=miou, lr=1e-3, step_s=1.0, machine=dict(processor=cpu),
                **extra)


def test_paired_differences_stay_on_one_cpu_model():
    """Seeds measured on different CPU models are not paired; the interval
    is Student's t over the pairs that are."""
    runs = [
        _test_run('protune', 1, 50.0, 'A'), _test_run('full', 1, 49.0, 'A'),
        _test_run('protune', 2, 52.0, 'A'), _test_run('full', 2, 50.0, 'A'),
        _test_run('protune', 3, 51.0, 'A'), _test_run('full', 3, 48.0, 'A'),
        # seed 4 of full ran elsewhere: not paired
        _test_run('protune', 4, 60.0, 'A'), _test_run('full', 4, 40.0, 'B'),
    ]
    diff = paired(runs)[50]['full']
    assert diff['diffs'] == [1.0, 2.0, 3.0]
    # mean 2, std 1, t(0.975, 2) = 4.303: 2 ± 4.303 / sqrt(3)
    assert diff['ci95'] == pytest.approx((2 - 2.4843, 2 + 2.4843), abs=1e-3)
    assert diff['verdict'] == 'unclear'
    assert summarize(runs)[50]['full']['processors'] == ['A', 'B']


def test_summary_names_the_code_versions():
    runs = [_test_run('protune', 1, 50.0, 'A',
                      code=dict(commit='0123456789', dirty=False)),
            _test_run('protune', 2, 51.0, 'A',
                      code=dict(commit='abcdef0123', dirty=True)),
            _test_run('protune', 3, 52.0, 'A')]
    # sorted as text: digits before '?' before letters
    assert summarize(runs)[50]['protune']['commits'] == [
        '0123456', '?', 'abcdef0+']


def test_verdicts():
    assert verdict((0.1, 3.0)) == 'above'
    assert verdict((-3.0, -0.1)) == 'below'
    assert verdict((-0.9, 0.9)) == 'level'
    assert verdict((-1.0, 0.5)) == 'unclear'  # the margin is exclusive
    assert verdict(None) == 'unclear'
    assert interval95([1.0]) is None


def test_class_iou_is_averaged_over_seeds():
    runs = [_test_run('protune', seed, 50.0, 'A',
                      class_iou=dict(Sky=80.0 + seed, Pole=float(seed)))
            for seed in (1, 2)]
    assert summarize(runs)[50]['protune']['class_iou'] == dict(
        Sky=81.5, Pole=1.5)
