"""The transfer benchmark's report: the markdown tables of the statistics
(:mod:`.stats`), the plots (``transfer.png``, ``transfer_curves.png``,
``transfer_pareto.png``) and ``transfer.json``, which holds everything they
are drawn from (:func:`redraw` draws them again without training)."""
import json
import math
import os
import os.path as osp
from typing import Dict, List, Optional

from ..plotting import method_colours, save_figure
from .catalog import BACKBONES, TASKS
from ..machine import machine
from .records import RECORD_PROTOCOL
from .run import CURVE_POINTS
from .settings import TransferSettings, settings_record
from .stats import (LEVEL_MARGIN, PLATEAU_GAIN, pareto, paired, selection,
                    setting_name, summarize)

#: The plots beside ``transfer.json``.
PLOTS = ('transfer.png', 'transfer_curves.png', 'transfer_pareto.png')


def markdown(runs: List[dict],
             iters: Dict[int, int],
             metric: str = 'mIoU',
             metric_label: str = 'mIoU',
             reference: str = 'protune') -> str:
    """Per training split (``iters``: its training iterations): a markdown
    table of the test runs' ``metric`` (named ``metric_label``, a task's
    ``TASKS[task]['metric_label']``) with the chosen setting, the gain over
    head-only, ``reference``'s paired difference to each method and the
    costs, methods whose selection curve is still improving marked; the
    Pareto front of the metric against peak training memory; then the
    selection scores per setting with the chosen one's curve."""
    table = summarize(runs, metric)
    choices = selection(runs, metric)
    diffs = paired(runs, metric, reference)
    fronts = pareto(runs, metric)
    blocks = []
    for size, methods in choices.items():
        head = f'**{size} training images, {iters[size]} iterations** '
        summaries = table.get(size)
        lines = []
        if summaries:
            lines += _test_table(head, summaries, methods,
                                 diffs.get(size, {}), metric_label,
                                 reference)
            lines += ['', _front_text(fronts.get(size), summaries,
                                      metric_label, reference)]
            if all('class_iou' in s for s in summaries.values()):
                lines += [''] + _class_table(summaries)
        else:
            lines += [head + '(selection only: no test runs)']
        if any(choice['scores'] for choice in methods.values()):
            lines += [''] + _selection_table(methods, metric_label)
            edges = [f'{m} ({c["lr_at_edge"]})' for m, c in methods.items()
                     if c['lr_at_edge']]
            if edges:
                lines += ['', 'Chosen lr at an edge of the grid (the best '
                          'may lie outside it; widen --lr-grid): ' +
                          ', '.join(edges) + '.']
        blocks.append('\n'.join(lines))
    return '\n\n'.join(blocks)


def _test_table(head: str, summaries: Dict[str, dict],
                choices: Dict[str, dict], diffs: Dict[str, dict],
                metric_label: str, reference: str) -> List[str]:
    """The lines of one split's table of the test runs."""
    chosen = '; lr chosen on the selection split' if any(
        choice['scores'] for choice in choices.values()) else ''
    cpus = sorted({cpu for s in summaries.values()
                   for cpu in s['processors']})
    commits = sorted({c for s in summaries.values()
                      for c in s.get('commits', ['?'])})
    lines = [
        f'{head}({metric_label} in % on the test split, mean ± sample std '
        f'over seeds{chosen}; {reference} − it: mean [95% interval] of the '
        'paired seeds, and what the interval supports: above / below 0, '
        f'level (within ±{LEVEL_MARGIN:g}) or unclear; on '
        f'{" + ".join(cpus)}' + (' — MIXED CPU models: runs of different '
                                 'ones are not paired' if len(cpus) > 1
                                 else '') + f'; code {", ".join(commits)})',
        '',
        f'| method | lr | backbone lr × | {metric_label} | seeds | '
        f'vs head-only | {reference} − it (paired seeds) | trainable params '
        '(backbone) | train step | peak train memory | saved for backward '
        '| per-task checkpoint |',
        '| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | '
        '---: | ---: | ---: |'
    ]
    base = summaries.get('head-only')
    for method, s in summaries.items():
        seeds = ' / '.join(f'{v:.1f}' for v in s['seeds'])
        gap = f'{s["mean"] - base["mean"]:+.1f}' if base else '–'
        pair = _pair_text(diffs.get(method))
        name = method + (' (still improving)' if choices.get(
            method, {}).get('still_improving') else '')
        mult = s['backbone_lr_mult']
        lines.append(
            f'| {name} | {setting_name(s["lr"])} | '
            f'{"–" if mult is None else f"{mult:g}"} | {s["mean"]:.1f} ± '
            f'{s["std"]:.1f} | {seeds} | {gap} | {pair} | '
            f'{s["trainable_params"]:,} '
            f'({s["backbone_trainable_params"]:,}) | '
            f'{1e3 * s["step_s"]:.0f} ms | '
            f'{_mib(s["peak_train_bytes"])} | '
            f'{_mib(s["saved_bytes"])} | '
            f'{s["checkpoint_bytes"] / 2**20:.2f} MiB |')
    return lines


def _pair_text(diff: Optional[dict]) -> str:
    """``+1.2 [-0.3, 2.7] unclear``; ``–`` without paired seeds (an
    interval needs two)."""
    if not diff:
        return '–'
    ci95 = diff.get('ci95')
    interval = f' [{ci95[0]:+.1f}, {ci95[1]:+.1f}]' if ci95 else ''
    return f'{diff["mean"]:+.1f}{interval} {diff["verdict"]}'


def _class_table(summaries: Dict[str, dict]) -> List[str]:
    """The lines of one split's table of the test IoU per class (mean
    over seeds)."""
    classes = list(next(iter(summaries.values()))['class_iou'])
    lines = ['IoU per class (in %, mean over seeds)', '',
             '| method | ' + ' | '.join(classes) + ' |',
             '| --- |' + ' ---: |' * len(classes)]
    for method, s in summaries.items():
        lines.append(f'| {method} | ' + ' | '.join(
            f'{s["class_iou"][c]:.1f}' for c in classes) + ' |')
    return lines


def _mib(value: Optional[int]) -> str:
    """Bytes in MiB with one decimal; ``–`` for None."""
    return '–' if value is None else f'{value / 2**20:.1f} MiB'


def _front_text(front: Optional[List[str]], summaries: Dict[str, dict],
                metric_label: str, reference: str) -> str:
    """The sentence on one split's Pareto front (:func:`~.stats.pareto`)."""
    if not front:
        return 'Pareto front: – (no peak training memory recorded)'
    if reference not in summaries:
        verdict = f'{reference} did not run'
    elif reference in front:
        verdict = f'{reference} is on it'
    else:
        ref = summaries[reference]
        above = [
            m for m, s in summaries.items()
            if s['peak_train_bytes'] is not None and s['mean'] > ref['mean']
            and s['peak_train_bytes'] < ref['peak_train_bytes']
        ]
        verdict = (f'{reference} is not on it ({", ".join(above)}: more '
                   'accurate and lighter)')
    return (f'Pareto front of test {metric_label} against peak training '
            f'memory (no other method both more accurate and lighter): '
            f'{", ".join(front)}; {verdict}.')


def _selection_table(choices: Dict[str, dict],
                     metric_label: str) -> List[str]:
    """The lines of one split's selection table: a row per method and
    backbone lr multiplier, a column per lr, the chosen setting in bold,
    and the chosen setting's curve: its last gain
    (:func:`~.stats.curve_gain`) and whether it is still improving."""
    grid = sorted({
        float(name.split('x')[0])
        for choice in choices.values() for name in choice['scores']
    })
    lines = [
        f'Selection ({metric_label} in % on the selection split, seed 0; '
        'the chosen setting in bold; its curve still improving when the '
        f'last of its {CURVE_POINTS} points gains ≥ {PLATEAU_GAIN:g} over '
        'the best earlier one)', '',
        '| method | backbone lr × | ' + ' | '.join(f'lr {lr:g}'
                                                 for lr in grid) +
        ' | chosen curve: last gain |',
        '| --- | ---: |' + ' ---: |' * len(grid) + ' --- |'
    ]
    for method, choice in choices.items():
        if not choice['scores']:  # no selection runs: its only setting
            continue
        mults = sorted({
            name.partition('x')[2]
            for name in choice['scores']
        }, key=lambda m: -float(m) if m else 0)
        for mult in mults or ['']:
            cells = []
            for lr in grid:
                name = f'{lr:g}' + (f'x{mult}' if mult else '')
                value = choice['scores'].get(name)
                text = '–' if value is None else f'{value:.1f}'
                bold = name == setting_name(choice['lr'],
                                            choice['backbone_lr_mult'])
                cells.append(f'**{text}**' if bold and value is not None
                             else text)
            is_chosen = mult == ('' if choice['backbone_lr_mult'] is None
                                 else f'{choice["backbone_lr_mult"]:g}')
            lines.append(f'| {method} | {mult or "–"} | ' +
                         ' | '.join(cells) + ' | ' +
                         (_gain_text(choice) if is_chosen else '') + ' |')
    return lines


def _gain_text(choice: dict) -> str:
    """``+0.4 (flat)`` / ``+2.3 (still improving)``; ``–`` without a
    curve."""
    if choice['gain'] is None:
        return '–'
    state = 'still improving' if choice['still_improving'] else 'flat'
    return f'{choice["gain"]:+.1f} ({state})'


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
    ax.set_title(_title(backbone, task))
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def _title(backbone: str, task: str) -> str:
    """The plots' title: the track and the task."""
    return (f'Transfer: {BACKBONES[backbone]["title"]} -> '
            f'{TASKS[task]["title"]}')


def _panels(count: int, title: str):
    """A figure of ``count`` panels side by side (Agg backend) and its
    axes."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, count, figsize=(1 + 4.6 * count, 4),
                             squeeze=False)
    fig.suptitle(title, fontsize=10)
    return fig, axes[0]


def plot_curves(choices: Dict[int, Dict[str, dict]],
                path: str,
                backbone: str = 'resnet18',
                task: str = 'seg') -> None:
    """The selection curves (:func:`~.stats.selection`): one panel per
    split, one line per method at its chosen setting."""
    fig, axes = _panels(len(choices), _title(backbone, task))
    colours = method_colours(next(iter(choices.values())))
    for ax, (size, methods) in zip(axes, choices.items()):
        for method, choice in methods.items():
            if choice['curve']:
                its, values = zip(*choice['curve'])
                setting = setting_name(choice['lr'],
                                       choice['backbone_lr_mult'])
                ax.plot(its, values, 'o-', markersize=3,
                        color=colours.get(method),
                        label=f'{method} (lr {setting})')
        ax.set_title(f'{size} training images', fontsize=9)
        ax.set_xlabel('iteration')
        ax.set_ylabel(f'{TASKS[task]["metric_label"]} (%) on the selection '
                      'split')
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)


def plot_pareto(table: Dict[int, Dict[str, dict]],
                fronts: Dict[int, List[str]],
                path: str,
                backbone: str = 'resnet18',
                task: str = 'seg') -> None:
    """Test metric (mean over seeds, :func:`~.stats.summarize`) against peak
    training memory, one point per method, its area by trainable
    parameters, labelled; the Pareto front (``fronts``, :func:`~.stats.pareto`)
    joined by a line. One panel per split."""
    fig, axes = _panels(len(table), _title(backbone, task))
    colours = method_colours(next(iter(table.values())))
    largest = max(s['trainable_params'] for summaries in table.values()
                  for s in summaries.values())
    for ax, (size, summaries) in zip(axes, table.items()):
        shown = {m: s for m, s in summaries.items()
                 if s['peak_train_bytes'] is not None}
        for method, s in shown.items():
            x = s['peak_train_bytes'] / 2**20
            ax.scatter(x, s['mean'], color=colours[method], alpha=0.8,
                       s=20 + 480 * math.sqrt(s['trainable_params'] /
                                              largest))
            ax.annotate(method, (x, s['mean']), fontsize=7,
                        textcoords='offset points', xytext=(4, 4))
        front = sorted(fronts.get(size, []),
                       key=lambda m: shown[m]['peak_train_bytes'])
        ax.plot([shown[m]['peak_train_bytes'] / 2**20 for m in front],
                [shown[m]['mean'] for m in front], 'k--', linewidth=0.8,
                label='Pareto front')
        ax.set_title(f'{size} training images (area: trainable params)',
                     fontsize=9)
        ax.set_xlabel('peak training memory (MiB)')
        ax.set_ylabel(f'test {TASKS[task]["metric_label"]} (%)')
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)


def write_report(settings: TransferSettings, source: dict, runs: List[dict],
                 total_s: float, complete: bool) -> dict:
    """Write ``transfer.json`` into ``settings.out_dir``: the protocol
    (``RECORD_PROTOCOL``), settings, machine, source, the test runs'
    summary (:func:`~.stats.summarize`), the selection scores, choices and
    curves (:func:`~.stats.selection`), Pro-tuning's paired differences
    (:func:`~.stats.paired`), the Pareto fronts (:func:`~.stats.pareto`),
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
                                         ('paired', paired),
                                         ('pareto', pareto))},
                  runs=runs)
    # mmengine's dump turns numpy scalars into Python numbers, and writes
    # atomically once mmprotune is imported (AtomicLocalBackend)
    mmengine.dump(report, osp.join(settings.out_dir, 'transfer.json'),
                  indent=2)
    return report


def report_text(report: dict) -> str:
    """What the benchmark prints at the end, from its ``transfer.json``
    (``report``): a line on the runs, the machine and the metric, then
    :func:`markdown`."""
    settings = report['settings']
    task = TASKS[settings['task']]
    device = report['machine']['cuda'] or report['machine']['processor']
    runs = report['runs']
    head = (f'{len(runs)} runs ({report["trained"]} trained, '
            f'{report["reused"]} from records) in '
            f'{report["total_s"] / 60:.1f} min on {device}; '
            f'{task["metric_label"]} on ')
    grid, mults = settings['lr_grid'], settings['backbone_lr_mults']
    if settings['select_only']:
        head += (f'{settings["num_select"]} selection images (selection '
                 'only: no test runs)')
    else:
        head += f'{settings["num_val"]} test images'
        if settings.get('test_split'):  # real data
            head += f' (its {settings["test_split"]} split)'
        if len(grid) > 1 or len(mults) > 1:
            chosen = 'lr' + (' and backbone lr ×' if len(mults) > 1 else '')
            head += (f', {chosen} chosen on {settings["num_select"]} '
                     'selection images')
        else:
            head += f', lr {grid[0]:g} (no selection)'
    head += ('; training images drawn per seed from a pool of '
             f'{settings["pool_size"]}')
    iters = {int(size): n for size, n in settings['iters'].items()}
    table = markdown(report['runs'], iters, task['metric'],
                     task['metric_label'])
    return f'\n{head}\n\n{table}'


def redraw(json_path: str) -> str:
    """Draw the plots (:data:`PLOTS` beside ``json_path``) again from a
    ``transfer.json`` alone, without training; return the text the run
    printed (:func:`report_text`). ``transfer.png`` and
    ``transfer_pareto.png`` need test runs (not with ``--select-only``),
    and ``transfer_curves.png`` selection curves (not with a grid of one
    setting); a plot the JSON cannot draw is removed, so that none of an
    earlier run in the folder is taken for this one's."""
    with open(json_path, encoding='utf-8') as f:
        report = json.load(f)
    task = report['settings']['task']
    metric = TASKS[task]['metric']
    runs = report['runs']
    track = report['settings']['backbone'], task
    png, curves_png, pareto_png = (osp.join(
        osp.dirname(osp.abspath(json_path)), name) for name in PLOTS)
    table = summarize(runs, metric)
    fronts = pareto(runs, metric)
    choices = selection(runs, metric)
    drawers = (
        (png, bool(table), lambda: plot(table, png, *track)),
        (pareto_png, any(fronts.values()),
         lambda: plot_pareto(table, fronts, pareto_png, *track)),
        (curves_png, any(c['curve'] for methods in choices.values()
                         for c in methods.values()),
         lambda: plot_curves(choices, curves_png, *track)))
    for path, drawable, draw in drawers:
        if drawable:
            draw()
        elif osp.isfile(path):
            os.remove(path)
    return report_text(report)
