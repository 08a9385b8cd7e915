"""The transfer benchmark's report (:mod:`.transfer`): seed statistics per
method and split, the markdown table, the plot, and ``transfer.json``,
which holds everything they are drawn from (:func:`redraw` draws them again
without training)."""
import json
import os.path as osp
import statistics
from collections import OrderedDict
from typing import Dict, List

from .report import save_figure
from .transfer import BACKBONES, TASKS, TransferSettings, settings_record
from .transfer_records import machine


def summarize(runs: List[dict],
              metric: str = 'mIoU') -> Dict[int, Dict[str, dict]]:
    """``{train_size: {method: summary}}`` over the seeds of each pair: the
    ``metric``'s (a task's ``TASKS[task]['metric']``) ``mean``, sample
    ``std`` and per-seed values (``seeds``, in %), and the median step
    time; the figures that do not depend on the seed from the first run."""
    table: Dict[int, Dict[str, dict]] = OrderedDict()
    for run in runs:
        table.setdefault(run['train_size'], OrderedDict()).setdefault(
            run['method'], []).append(run)
    for size, methods in table.items():
        for method, seeds in methods.items():
            values = [r[metric] for r in seeds]
            first = seeds[0]
            methods[method] = dict(
                mean=statistics.mean(values),
                std=statistics.stdev(values) if len(values) > 1 else 0.,
                seeds=values,
                step_s=statistics.median(r['step_s'] for r in seeds),
                **{
                    key: first[key]
                    for key in ('trainable_params',
                                'backbone_trainable_params', 'saved_bytes',
                                'checkpoint_bytes')
                })
    return table


def markdown(table: Dict[int, Dict[str, dict]],
             iters: Dict[int, int],
             metric_label: str = 'mIoU') -> str:
    """One markdown table per training split (``iters``: its training
    iterations) of the metric named ``metric_label`` (a task's
    ``TASKS[task]['metric_label']``)."""
    blocks = []
    for size, methods in table.items():
        lines = [
            f'**{size} training images, {iters[size]} iterations** '
            f'({metric_label} in %, mean ± sample std over seeds)', '',
            f'| method | {metric_label} | seeds | vs head-only | trainable '
            'params (backbone) | train step | saved for backward | per-task '
            'checkpoint |',
            '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |'
        ]
        base = methods.get('head-only')
        for method, s in methods.items():
            seeds = ' / '.join(f'{v:.1f}' for v in s['seeds'])
            gap = f'{s["mean"] - base["mean"]:+.1f}' if base else '–'
            lines.append(
                f'| {method} | {s["mean"]:.1f} ± {s["std"]:.1f} | '
                f'{seeds} | {gap} | {s["trainable_params"]:,} '
                f'({s["backbone_trainable_params"]:,}) | '
                f'{1e3 * s["step_s"]:.0f} ms | '
                f'{s["saved_bytes"] / 2**20:.1f} MiB | '
                f'{s["checkpoint_bytes"] / 2**20:.2f} MiB |')
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
    """Write ``transfer.json`` into ``settings.out_dir``: settings, machine,
    source, the summary, how many runs trained now and how many came from
    records, and every run so far (``complete: false`` until the last);
    return it."""
    import mmengine
    metric = TASKS[settings.task]['metric']
    summary = {str(k): v for k, v in summarize(runs, metric).items()}
    reused = sum(bool(run.get('reused')) for run in runs)
    report = dict(settings=settings_record(settings), metric=metric,
                  machine=machine(),
                  source=source, complete=complete, total_s=total_s,
                  trained=len(runs) - reused, reused=reused,
                  summary=summary, runs=runs)
    # mmengine's dump turns numpy scalars into Python numbers, and writes
    # atomically once mmprotune is imported (AtomicLocalBackend)
    mmengine.dump(report, osp.join(settings.out_dir, 'transfer.json'),
                  indent=2)
    return report


def _task(report: dict) -> str:
    """The task of a ``transfer.json``; one written before the task was
    recorded is a segmentation one."""
    return report['settings'].get('task', 'seg')


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
            f'{task["metric_label"]} on {settings["num_val"]} validation '
            'images')
    iters = {int(size): n for size, n in settings['iters'].items()}
    table = markdown(summarize(runs, task['metric']), iters,
                     task['metric_label'])
    return f'\n{head}\n\n{table}'


def redraw(json_path: str) -> str:
    """Draw the plot (``transfer.png`` beside ``json_path``) again from a
    ``transfer.json`` alone, without training; return the text the run
    printed (:func:`report_text`)."""
    with open(json_path, encoding='utf-8') as f:
        report = json.load(f)
    task = _task(report)
    plot(summarize(report['runs'], TASKS[task]['metric']),
         osp.join(osp.dirname(osp.abspath(json_path)), 'transfer.png'),
         report['settings']['backbone'], task)
    return report_text(report)
