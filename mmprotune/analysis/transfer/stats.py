"""The transfer benchmark's statistics of its runs: seed statistics of the
test runs (:func:`summarize`), the selection scores, curves and chosen
setting (:func:`selection`, :func:`choose_setting`), Pro-tuning's paired
differences with their 95% intervals and what those support
(:func:`paired`, :func:`verdict`) and the Pareto front of the metric
against peak training memory (:func:`pareto`)."""
import statistics
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

#: A selection curve is *still improving* when its last point gains at
#: least this much (points of the metric, in %: mIoU or top-1) over the
#: best earlier point; else it has stopped improving (flat, or falling).
PLATEAU_GAIN = 1.0
#: A paired difference is *level* when its 95% interval lies within this
#: many points of zero (the goals' margin: within 1 mIoU).
LEVEL_MARGIN = 1.0
#: The figures of a method that do not depend on the seed: taken from its
#: first test run (None where a run does not have one).
FIGURES = ('trainable_params', 'backbone_trainable_params', 'saved_bytes',
           'checkpoint_bytes', 'peak_train_bytes')


def _test_runs(runs: List[dict]) -> List[dict]:
    """The runs of the test phase, the only ones the tables report."""
    return [run for run in runs if run['phase'] == 'test']


def setting_name(lr: float, mult: Optional[float] = None) -> str:
    """An lr as ``%g``, followed by ``x<mult>`` with a backbone lr
    multiplier (as in run names, e.g. ``0.001x0.1``)."""
    return f'{lr:g}' + ('' if mult is None else f'x{mult:g}')


def processor(run: dict) -> Optional[str]:
    """The CPU model a run was measured on (None if not recorded)."""
    return (run.get('machine') or {}).get('processor')


def commit(run: dict) -> str:
    """The short commit of the code a run ran (``'?'`` if not recorded;
    ``+`` after it for a checkout that differed from it)."""
    code = run.get('code')
    if not code:
        return '?'
    return code['commit'][:7] + ('+' if code.get('dirty') else '')


def summarize(runs: List[dict],
              metric: str = 'mIoU') -> Dict[int, Dict[str, dict]]:
    """``{train_size: {method: summary}}`` over the test runs' seeds of
    each pair: the ``metric``'s (a task's ``TASKS[task]['metric']``)
    ``mean``, sample ``std`` and per-seed values (``seeds``, in %), the lr
    and backbone lr multiplier they trained at, the median step time, the
    CPU models the seeds ran on (``processors``), the code versions they
    ran (``commits``, :func:`commit`) and, where the runs have
    it, the mean IoU per class (``class_iou``); the :data:`FIGURES` from
    the first run."""
    table: Dict[int, Dict[str, dict]] = OrderedDict()
    for run in _test_runs(runs):
        table.setdefault(run['train_size'], OrderedDict()).setdefault(
            run['method'], []).append(run)
    for size, methods in table.items():
        for method, seeds in methods.items():
            values = [r[metric] for r in seeds]
            first = seeds[0]
            methods[method] = dict(
                mean=statistics.mean(values),
                std=_std(values),
                seeds=values,
                lr=first['lr'],
                backbone_lr_mult=first.get('backbone_lr_mult'),
                step_s=statistics.median(r['step_s'] for r in seeds),
                processors=sorted({processor(r) or '?' for r in seeds}),
                commits=sorted({commit(r) for r in seeds}),
                **{key: first.get(key)
                   for key in FIGURES})
            if all('class_iou' in r for r in seeds):
                methods[method]['class_iou'] = {
                    name: statistics.mean(r['class_iou'][name]
                                          for r in seeds)
                    for name in first['class_iou']}
    return table


def _std(values: List[float]) -> float:
    """The sample standard deviation; 0 for one value."""
    return statistics.stdev(values) if len(values) > 1 else 0.


def curve_gain(values: Sequence[float]) -> Optional[float]:
    """The last value of a curve minus the best earlier one; None for a
    curve of fewer than two points."""
    return values[-1] - max(values[:-1]) if len(values) > 1 else None


def still_improving(values: Sequence[float]) -> Optional[bool]:
    """Whether a selection curve (its metric values in order) is still
    improving: its last point gains at least :data:`PLATEAU_GAIN` over the
    best earlier one; None for a curve of fewer than two points.

    Example:
        >>> still_improving([20, 40, 41.5]), still_improving([20, 40, 40.5])
        (True, False)
    """
    gain = curve_gain(values)
    return None if gain is None else gain >= PLATEAU_GAIN


def choose_setting(scores: Dict[tuple, float]) -> tuple:
    """The setting ``(lr, backbone_lr_mult)`` of the best selection score
    (``{setting: score}``; the multiplier None for a method without
    pretrained weights to train); of equal scores the smallest lr, then
    the smallest multiplier."""
    return max(sorted(scores), key=scores.__getitem__)


def selection(runs: List[dict],
              metric: str = 'mIoU') -> Dict[int, Dict[str, dict]]:
    """``{train_size: {method: choice}}``: each selection run's ``metric``
    on the selection split (``scores``, ``{setting: value}`` with the
    setting as :func:`setting_name` text), the setting chosen from them
    (``lr`` and ``backbone_lr_mult``, :func:`choose_setting`),
    its selection ``curve`` (``[[iteration, value], ...]``), the curve's
    last ``gain`` (:func:`curve_gain`), whether it is
    ``still_improving`` (:func:`still_improving`) and whether the chosen lr
    is the largest or smallest the method tried (``lr_at_edge``:
    ``'top'``, ``'bottom'`` or None; then the best may lie outside the
    grid); without selection runs (a grid of one setting) no scores, no
    curve, and the setting of the test runs."""
    choices: Dict[int, Dict[str, dict]] = OrderedDict()
    curves: Dict[tuple, list] = {}
    for run in runs:
        mult = run.get('backbone_lr_mult')
        choice = choices.setdefault(run['train_size'], OrderedDict()) \
            .setdefault(run['method'], dict(scores={}, lr=run['lr'],
                                            backbone_lr_mult=mult))
        if run['phase'] == 'select':
            choice['scores'][run['lr'], mult] = run[metric]
            curves[run['train_size'], run['method'], run['lr'],
                   mult] = run.get('curve') or []
    for size, methods in choices.items():
        for method, choice in methods.items():
            scores = choice['scores']
            curve = []
            lrs = sorted({lr for lr, _ in scores})
            if scores:
                choice['lr'], choice['backbone_lr_mult'] = setting = \
                    choose_setting(scores)
                curve = [[point['iter'], point[metric]]
                         for point in curves[(size, method, *setting)]]
            values = [value for _, value in curve]
            choice.update(
                scores={setting_name(*s): v
                        for s, v in scores.items()},
                curve=curve,
                gain=curve_gain(values),
                still_improving=still_improving(values),
                lr_at_edge=lr_at_edge(choice['lr'], lrs))
    return choices


def lr_at_edge(lr: float, lrs: List[float]) -> Optional[str]:
    """``'top'`` / ``'bottom'`` if ``lr`` is the largest / smallest of
    the (sorted) ``lrs`` tried, more than one; else None."""
    if len(lrs) < 2:
        return None
    return 'top' if lr == lrs[-1] else 'bottom' if lr == lrs[0] else None


def interval95(diffs: Sequence[float]) -> Optional[Tuple[float, float]]:
    """The 95% confidence interval of the mean of ``diffs`` (Student's t,
    ``mean ± t(0.975, n - 1) std / sqrt(n)``); None for fewer than two.

    Example:
        >>> [round(v, 2) for v in interval95([1.0, 2.0, 3.0])]
        [-0.48, 4.48]
    """
    if len(diffs) < 2:
        return None
    from scipy.stats import t
    half = t.ppf(0.975, len(diffs) - 1) * _std(diffs) / len(diffs)**0.5
    mean = statistics.mean(diffs)
    return mean - half, mean + half


def verdict(interval: Optional[Tuple[float, float]],
            margin: float = LEVEL_MARGIN) -> str:
    """What a paired difference's 95% interval supports: ``'above'``
    (wholly above 0), ``'below'`` (wholly below 0), ``'level'`` (within
    ``margin`` of 0 both ways), else ``'unclear'`` (or without an
    interval).

    Example:
        >>> verdict((0.2, 1.5)), verdict((-0.8, 0.6)), verdict((-2, 0.5))
        ('above', 'level', 'unclear')
    """
    if interval is None:
        return 'unclear'
    low, high = interval
    if low > 0:
        return 'above'
    if high < 0:
        return 'below'
    return 'level' if -margin < low and high < margin else 'unclear'


def paired(runs: List[dict],
           metric: str = 'mIoU',
           reference: str = 'protune') -> Dict[int, Dict[str, dict]]:
    """``{train_size: {method: difference}}``: ``reference`` minus each
    other method in the test runs of the same seed (the same training
    images and data order) measured on the same CPU model (runs of another
    one are never paired), over the seeds both have: the per-seed
    differences (``diffs``), their ``mean``, sample ``std``, 95% interval
    (``ci95``, :func:`interval95`) and what it supports (``verdict``,
    :func:`verdict`). Empty for a split without ``reference``."""
    values: Dict[int, Dict[str, Dict[int, tuple]]] = OrderedDict()
    for run in _test_runs(runs):
        values.setdefault(run['train_size'], OrderedDict()).setdefault(
            run['method'], {})[run['seed']] = (run[metric], processor(run))
    table: Dict[int, Dict[str, dict]] = OrderedDict()
    for size, methods in values.items():
        ref = methods.get(reference) or {}
        table[size] = OrderedDict()
        for method, seeds in methods.items():
            common = sorted(seed for seed in set(seeds) & set(ref)
                            if seeds[seed][1] == ref[seed][1])
            if method == reference or not common:
                continue
            diffs = [ref[seed][0] - seeds[seed][0] for seed in common]
            ci95 = interval95(diffs)
            table[size][method] = dict(
                mean=statistics.mean(diffs), std=_std(diffs), diffs=diffs,
                ci95=ci95, verdict=verdict(ci95))
    return table


def pareto_front(points: Dict[str, Tuple[float, float]]) -> List[str]:
    """The methods of ``points`` (``{method: (metric, memory)}``) on the
    Pareto front: no other method both more accurate (a higher metric) and
    lighter (less memory), in the order given.

    Example:
        >>> pareto_front({'a': (60, 100), 'b': (50, 120), 'c': (70, 300)})
        ['a', 'c']
    """
    return [
        method for method, (value, memory) in points.items()
        if not any(v > value and m < memory for v, m in points.values())
    ]


def pareto(runs: List[dict], metric: str = 'mIoU') -> Dict[int, List[str]]:
    """``{train_size: methods}``: the Pareto front (:func:`pareto_front`)
    of the test runs' mean ``metric`` against peak training memory
    (``peak_train_bytes``), over the methods that have it."""
    return OrderedDict(
        (size, pareto_front({
            method: (s['mean'], s['peak_train_bytes'])
            for method, s in summaries.items()
            if s['peak_train_bytes'] is not None
        })) for size, summaries in summarize(runs, metric).items())
