"""The transfer benchmark's report (:mod:`.transfer`): seed statistics per
method and split of the test runs, the selection scores and chosen lr,
Pro-tuning's paired differences, the markdown tables, the plot, and
``transfer.json``,
which holds everything they are drawn from (:func:`redraw` draws them again
without training)."""
import json
import os.path as osp
import statistics
from collections import OrderedDict
from typing import Dict, List

from .report import save_figure
from .transfer import (BACKBONES, TASKS, TransferSettings, choose_lr,
                       settings_record)
from .transfer_records import RECORD_PROTOCOL, machine


def _test_runs(runs: List[dict]) -> List[dict]:
    """The runs of the test phase, the only ones the tables report."""
    return [run for run in runs if run['phase'] == 'test']


def summarize(runs: List[dict],
              metric: str = 'mIoU') -> Dict[int, Dict[str, dict]]:
    """``{train_size: {method: summary}}`` over the test runs' seeds of
    each pair: the ``metric``'s (a task's ``TASKS[task]['metric']``)
    ``mean``, sample ``std`` and per-seed values (``seeds``, in %), the lr
    they trained at and the median step time; the figures that do not
    depend on the seed from the first run."""
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
                step_s=statistics.median(r['step_s'] for r in seeds),
                **{
                    key: first[key]
                    for key in ('trainable_params',
                                'backbone_trainable_params', 'saved_bytes',
                                'checkpoint_bytes')
                })
    return table


def _std(values: List[float]) -> float:
    """The sample standard deviation; 0 for one value."""
    return statistics.stdev(values) if len(values) > 1 else 0.


def selection(runs: List[dict],
              metric: str = 'mIoU') -> Dict[int, Dict[str, dict]]:
    """``{train_size: {method: choice}}``: each selection run's ``metric``
    on the selection split (``scores``, ``{lr: value}`` with the lr as
    ``'%g'`` text) and the lr chosen from them (``lr``,
    :func:`~.transfer.choose_lr`); without selection runs (a grid of one
    value) no scores and the lr of the test runs."""
    choices: Dict[int, Dict[str, dict]] = OrderedDict()
    for run in runs:
        scores = choices.setdefault(run['train_size'], OrderedDict()) \
            .setdefault(run['method'], dict(scores={}, lr=run['lr']))
        if run['phase'] == 'select':
            scores['scores'][run['lr']] = run[metric]
    for methods in choices.values():
        for choice in methods.values():
            scores = choice['scores']
            if scores:
                choice['lr'] = choose_lr(scores)
            choice['scores'] = {f'{lr:g}': v for lr, v in scores.items()}
    return choices


def paired(runs: List[dict],
           metric: str = 'mIoU',
           reference: str = 'protune') -> Dict[int, Dict[str, dict]]:
    """``{train_size: {method: difference}}``: ``reference`` minus each
    other method in the test runs of the same seed (the same training
    images and data order), over the seeds both have: the per-seed
    differences (``diffs``), their ``mean`` and sample ``std``. Empty for
    a split without ``reference``."""
    values: Dict[int, Dict[str, Dict[int, float]]] = OrderedDict()
    for run in _test_runs(runs):
        values.setdefault(run['train_size'], OrderedDict()).setdefault(
            run['method'], {})[run['seed']] = run[metric]
    table: Dict[int, Dict[str, dict]] = OrderedDict()
    for size, methods in values.items():
        ref = methods.get(reference)
        table[size] = OrderedDict()
        for method, seeds in methods.items():
            common = sorted(set(seeds) & set(ref or {}))
            if method == reference or not common:
                continue
            diffs = [ref[seed] - seeds[seed] for seed in common]
            table[size][method] = dict(
                mean=statistics.mean(diffs), std=_std(diffs), diffs=diffs)
    return table


def _lr_text(lr) -> str:
    """An lr as ``%g``; ``–`` where a protocol-1 report has none."""
    return '–' if lr is None else f'{lr:g}'


def markdown(runs: List[dict],
             iters: Dict[int, int],
             metric: str = 'mIoU',
             metric_label: str = 'mIoU') -> str:
    """Per training split (``iters``: its training iterations): a markdown
    table of the test runs' ``metric`` (named ``metric_label``, a task's
    ``TASKS[task]['metric_label']``) with the chosen lr, the gain over
    head-only and Pro-tuning's paired difference to each method, then one
    of the selection scores per lr."""
    table = summarize(runs, metric)
    choices = selection(runs, metric)
    diffs = paired(runs, metric)
    blocks = []
    for size, methods in choices.items():
        summaries = table.get(size, {})
        grid = sorted({float(lr) for c in methods.values()
                       for lr in c['scores']})
        chosen = '; lr chosen on the selection split' if grid else ''
        lines = [
            f'**{size} training images, {iters[size]} iterations** '
            f'({metric_label} in % on the test split, mean ± sample std '
            f'over seeds{chosen})', '',
            f'| method | lr | {metric_label} | seeds | vs head-only | '
            'protune − it (paired seeds) | trainable params (backbone) | '
            'train step | saved for backward | per-task checkpoint |',
            '| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | '
            '---: |'
        ]
        base = summaries.get('head-only')
        for method, s in summaries.items():
            seeds = ' / '.join(f'{v:.1f}' for v in s['seeds'])
            gap = f'{s["mean"] - base["mean"]:+.1f}' if base else '–'
            d = diffs.get(size, {}).get(method)
            pair = f'{d["mean"]:+.1f} ± {d["std"]:.1f}' if d else '–'
            lines.append(
                f'| {method} | {_lr_text(s["lr"])} | {s["mean"]:.1f} ± '
                f'{s["std"]:.1f} | {seeds} | {gap} | {pair} | '
                f'{s["trainable_params"]:,} '
                f'({s["backbone_trainable_params"]:,}) | '
                f'{1e3 * s["step_s"]:.0f} ms | '
                f'{s["saved_bytes"] / 2**20:.1f} MiB | '
                f'{s["checkpoint_bytes"] / 2**20:.2f} MiB |')
        if grid:
            lines += [
                '', f'Selection ({metric_label} in % on the selection '
                'split, seed 0; the chosen lr in bold)', '',
                '| method | ' + ' | '.join(f'lr {lr:g}'
                                          for lr in grid) + ' |',
                '| --- |' + ' ---: |' * len(grid)
            ]
            for method, choice in methods.items():
                cells = []
                for lr in grid:
                    value = choice['scores'].get(f'{lr:g}')
                    text = '–' if value is None else f'{value:.1f}'
                    cells.append(f'**{text}**' if lr == choice['lr'] and
                                 value is not None else text)
                lines.append(f'| {method} | ' + ' | '.join(cells) + ' |')
        blocks.append('\n'.join(lines))
    return '\n\n'.join(blocks)


def plot(table: Dict[int, Dict[str, dict]],
         path: str,
         backbone: str = 'resnet18',
         task: str = 'seg') -> None:
    """Grouped bars of the task's metric (± std, seeds as dots) per method
    and split."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    methods = list(next(iter(table.values())))
    width = 0.8 / len(table)
    fig, ax = plt.subplots(figsize=(1.6 + 1.1 * len(methods), 4))
    for i, (size, summaries) in enumerate(table.items()):
        done = [m for m in methods if m in summaries]  # a stopped run
        xs = [methods.index(m) + (i - (len(table) - 1) / 2) * width
              for m in done]
        ax.bar(xs, [summaries[m]['mean'] for m in done], width,
               yerr=[summaries[m]['std'] for m in done], capsize=3,
               label=f'{size} training images')
        for x, method in zip(xs, done):
            values = summaries[method]['seeds']
            ax.plot([x] * len(values), values, 'k.', markersize=3)
    ax.set_xticks(range(len(methods)))
    ax.set_xticklabels(methods, rotation=20, ha='right')
    ax.set_ylabel(f'{TASKS[task]["metric_label"]} (%)')
    ax.set_title(f'Transfer: count-pretrained {BACKBONES[backbone]["title"]}'
                 f' -> {TASKS[task]["title"]}')
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def write_report(settings: TransferSettings, source: dict, runs: List[dict],
                 total_s: float, complete: bool) -> dict:
    """Write ``transfer.json`` into ``settings.out_dir``: the protocol
    (``RECORD_PROTOCOL``), settings, machine, source, the test runs'
    summary (:func:`summarize`), the selection scores and choices
    (:func:`selection`), Pro-tuning's paired differences (:func:`paired`),
    how many runs trained now and how many came from records, and every
    run so far (``complete: false`` until the last); return it."""
    import mmengine
    metric = TASKS[settings.task]['metric']
    reused = sum(bool(run.get('reused')) for run in runs)
    report = dict(protocol=RECORD_PROTOCOL,
                  settings=settings_record(settings), metric=metric,
                  machine=machine(),
                  source=source, complete=complete, total_s=total_s,
                  trained=len(runs) - reused, reused=reused,
                  **{name: {str(size): v for size, v in table(
                      runs, metric).items()}
                     for name, table in (('summary', summarize),
                                         ('selection', selection),
                                         ('paired', paired))},
                  runs=runs)
    # mmengine's dump turns numpy scalars into Python numbers, and writes
    # atomically once mmprotune is imported (AtomicLocalBackend)
    mmengine.dump(report, osp.join(settings.out_dir, 'transfer.json'),
                  indent=2)
    return report


def _task(report: dict) -> str:
    """The task of a ``transfer.json``; one written before the task was
    recorded is a segmentation one."""
    return report['settings'].get('task', 'seg')


def _runs(report: dict) -> List[dict]:
    """The runs of a ``transfer.json``; those of protocol 1 (no
    ``protocol``: no selection, the configs' lr, not recorded here) as test
    runs without an lr."""
    if report.get('protocol', 1) > 1:
        return report['runs']
    return [dict(run, phase='test', lr=None) for run in report['runs']]


def report_text(report: dict) -> str:
    """What the benchmark prints at the end, from its ``transfer.json``
    (``report``): a line on the runs, the machine and the metric, then
    :func:`markdown`."""
    settings = report['settings']
    task = TASKS[_task(report)]
    device = report['machine']['cuda'] or report['machine']['processor']
    runs = report['runs']
    head = (f'{len(runs)} runs ({report["trained"]} trained, '
            f'{report["reused"]} from records) in '
            f'{report["total_s"] / 60:.1f} min on {device}; '
            f'{task["metric_label"]} on {settings["num_val"]} test images')
    if 'lr_grid' in settings:  # protocol 2
        grid = settings['lr_grid']
        head += (f', lr chosen on {settings["num_select"]} selection images'
                 if len(grid) > 1 else f', lr {grid[0]:g} (no selection)')
        head += ('; training images drawn per seed from a pool of '
                 f'{settings["pool_size"]}')
    iters = {int(size): n for size, n in settings['iters'].items()}
    table = markdown(_runs(report), iters, task['metric'],
                     task['metric_label'])
    return f'\n{head}\n\n{table}'


def redraw(json_path: str) -> str:
    """Draw the plot (``transfer.png`` beside ``json_path``) again from a
    ``transfer.json`` alone, without training; return the text the run
    printed (:func:`report_text`)."""
    with open(json_path, encoding='utf-8') as f:
        report = json.load(f)
    task = _task(report)
    plot(summarize(_runs(report), TASKS[task]['metric']),
         osp.join(osp.dirname(osp.abspath(json_path)), 'transfer.png'),
         report['settings']['backbone'], task)
    return report_text(report)
