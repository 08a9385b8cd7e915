"""Controlled transfer benchmark: every tuning method, the same data,
schedule and evaluation, several seeds, on data and weights made here (see
:mod:`mmprotune.analysis.transfer` and docs/transfer_benchmark.md).

Prints a markdown table per split (mIoU mean ± std over seeds, the seeds'
values, trainable parameters, train step time, activation memory saved for
backward, per-task checkpoint size) and writes ``transfer.json`` and
``transfer.png`` into ``--out-dir`` (default ``work_dirs/transfer``, and
``work_dirs/transfer-swin`` for the Swin track).

Example::

    python tools/benchmark_transfer.py                  # the full benchmark
    python tools/benchmark_transfer.py --quick          # a smoke run
    python tools/benchmark_transfer.py --methods full,head-only,protune \\
        --seeds 2 --iters 300 --train-sizes 50
    python tools/benchmark_transfer.py --backbone swin  # the Swin track
"""
import argparse
import os
import os.path as osp
import time
import warnings
from typing import List, Optional, Sequence

from mmprotune.analysis.benchmark import METHOD_ALIASES, parse_methods
from mmprotune.analysis.transfer import (BACKBONES, OPT_IN_METHODS,
                                         TransferSettings, backbone_methods,
                                         make_target_data, pretrain, run_all,
                                         transfer_settings)
from mmprotune.analysis.transfer_report import (markdown, plot, summarize,
                                                write_report)

#: Deprecation notes of the upstream packages, and mmseg's note that the
#: configs leave the visualisation hook off; printed once per run otherwise.
NOISY_WARNINGS = ('pkg_resources is deprecated', '``build_loss`` would be',
                  'Default ``avg_non_ignore``', 'The draw is False')


def parse_args(argv: Optional[Sequence[str]] = None) -> TransferSettings:
    parser = argparse.ArgumentParser(
        description='Pretrain a backbone on a source task, then tune it to '
        'a target segmentation task with each method and seed, and tabulate '
        'mIoU, trainable parameters, step time and memory.')
    parser.add_argument(
        '--backbone',
        choices=list(BACKBONES),
        default='resnet18',
        help='the benchmark track: the pretrained backbone, its configs and '
        'methods (default: resnet18)')
    parser.add_argument(
        '--methods',
        type=parse_methods,
        help='comma-separated methods of the --backbone (' + '; '.join(
            f'{b}: {",".join(backbone_methods(b))}' for b in BACKBONES) +
        f'); default: all but {",".join(OPT_IN_METHODS)}; old spellings '
        'accepted: ' +
        ', '.join(f'{a}={m}' for a, m in METHOD_ALIASES.items()))
    parser.add_argument(
        '--seeds',
        type=positive_int,
        help='seeds per method and split (0, 1, ...)')
    parser.add_argument(
        '--iters',
        type=parse_sizes,
        help='training iterations per split, comma-separated in the order '
        'of --train-sizes, or one value for every split')
    parser.add_argument(
        '--train-sizes',
        type=parse_sizes,
        help='comma-separated training split sizes, e.g. 50,500')
    parser.add_argument(
        '--num-val', type=positive_int, help='validation images')
    parser.add_argument(
        '--quick',
        action='store_true',
        help='smoke-run defaults: 1 seed, 4 iterations, tiny data')
    parser.add_argument(
        '--out-dir',
        help='where the table, JSON, plot, checkpoint, data and logs go '
        '(default: ' + ', '.join(f'{spec["out_dir"]} for {b}'
                                 for b, spec in BACKBONES.items()) + ')')
    args = parser.parse_args(argv)
    try:
        return transfer_settings(**vars(args))
    except ValueError as error:
        parser.error(str(error))


def positive_int(text: str) -> int:
    """``'3'`` -> ``3``; anything but an int > 0 is an argument error."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(
            f'expected a positive int, got {text!r}')
    return value


def parse_sizes(text: str) -> List[int]:
    """``'50,500'`` -> ``[50, 500]`` (positive ints)."""
    return [positive_int(s) for s in text.split(',')]


def run(settings: TransferSettings, source: dict, data_root: str,
        start: float) -> List[dict]:
    """Every run under a progress bar, a line per finished run, and
    ``transfer.json`` rewritten after each."""
    from rich.progress import Progress
    with Progress() as progress:
        task = progress.add_task('transfer runs', total=None)

        def track(names):
            progress.update(task, total=len(names))
            for name in names:
                progress.update(task, description=name)
                yield name
                progress.advance(task)

        def on_run(runs: List[dict], planned: int) -> None:
            write_report(settings, source, runs, time.time() - start,
                         complete=len(runs) == planned)
            run = runs[-1]
            progress.console.print(
                f'n{run["train_size"]}_{run["method"]}_seed{run["seed"]}: '
                f'mIoU {run["mIoU"]:.2f}, loss {run["loss_curve"][0]:.3f} '
                f'-> {run["loss_curve"][-1]:.3f}, '
                f'{run["train_s"] + run["test_s"]:.0f} s')

        return run_all(settings, source, data_root, on_run, track)


def main(argv: Optional[Sequence[str]] = None) -> None:
    settings = parse_args(argv)
    settings.out_dir = osp.abspath(settings.out_dir)
    os.makedirs(settings.out_dir, exist_ok=True)
    os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    for noise in NOISY_WARNINGS:
        warnings.filterwarnings('ignore', message=noise)

    start = time.time()
    print('pretraining the source backbone (reused if present) ...',
          flush=True)
    source = pretrain(settings)
    print(f'source: {source["summary"]}', flush=True)
    data_root = make_target_data(settings)
    runs = run(settings, source, data_root, start)
    table = summarize(runs)
    report = write_report(settings, source, runs, time.time() - start,
                          complete=True)
    plot(table, osp.join(settings.out_dir, 'transfer.png'), settings.backbone)
    device = report['machine']['cuda'] or report['machine']['processor']
    print(f'\n{len(runs)} runs in {report["total_s"] / 60:.1f} min on '
          f'{device}; mIoU on {settings.num_val} validation images\n')
    print(markdown(table, settings.iters))


if __name__ == '__main__':
    main()
