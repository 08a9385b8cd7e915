"""The transfer benchmark's statistics
(:mod:`mmprotune.analysis.transfer.stats`): the still-improving rule of a
selection curve and the choice of a setting."""
from mmprotune.analysis.transfer.stats import (choose_setting, curve_gain,
                                               still_improving)


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
