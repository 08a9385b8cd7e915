"""Controlled transfer benchmark: every tuning method, the same data,
schedule and evaluation, several seeds (see
:mod:`mmprotune.analysis.transfer` and docs/transfer_benchmark.md).

Two kinds of track. Real: an ImageNet MobileNetV2 (``--backbone
mobilenetv2``) on CamVid road scenes (task ``camvid``, its default: mIoU)
or on the raccoon detection set (``--task raccoon``: box AP), the data in
``--data-root``. Synthetic, on data and weights made here: a ResNet-18 or a
small Swin pretrained to count shapes, tuned to segment them (``--task
seg``, their default: mIoU) or classify them (``--task cls``: top-1
accuracy). Every method is tried at each lr of ``--lr-grid`` (and, if it
trains backbone parameters, each ``--backbone-lr-mults`` multiplier of them)
on the selection split (seed 0; a curve of the training loop's
validations; a choice at an edge of the grid widens it), then trained with
``--seeds`` other seeds at the best setting and evaluated on the held-out
test split (not with ``--select-only``); a seed draws the training images
from a pool too. Prints a markdown table per split (the chosen setting, the
metric's mean ± std over seeds, the seeds' values, Pro-tuning's paired
difference to each method, trainable parameters, train step time, peak
training memory, activation memory saved for backward, per-task checkpoint
size; methods whose selection curve is still improving marked), the Pareto
front of the metric against peak training memory, then the selection scores
and curves, and writes ``transfer.json``, ``transfer.png``,
``transfer_curves.png`` and ``transfer_pareto.png`` into ``--out-dir``
(default ``work_dirs/transfer``, ``work_dirs/transfer-swin`` for the Swin
track, ``-cls`` after either for the classification task, and
``work_dirs/transfer-<task>`` for a real task), and for a real task
``transfer_predictions.png``: a few test images, their ground truth and
each method's prediction (the first test seed's). Each finished run is
recorded in ``--records`` (default ``<out-dir>/records``); a rerun skips the
runs recorded there or in ``--reuse-records`` folders under the same
settings. ``--from-json`` draws the tables and the plots again from a
``transfer.json`` without training.

Example::

    python tools/benchmark_transfer.py --backbone mobilenetv2 \\
        --data-root ../shared/data/camvid                # the CamVid track
    python tools/benchmark_transfer.py --backbone mobilenetv2 \\
        --task raccoon --data-root ../shared/data/raccoon  # detection
    python tools/benchmark_transfer.py                  # the ResNet track
    python tools/benchmark_transfer.py --quick          # a smoke run
    python tools/benchmark_transfer.py --methods full,head-only,protune \\
        --seeds 2 --iters 300 --train-sizes 50 --lr-grid 1e-3,1e-2
    python tools/benchmark_transfer.py --backbone swin  # the Swin track
    python tools/benchmark_transfer.py --task cls       # classification
    python tools/benchmark_transfer.py --select-only \\
        --methods protune,protune-block,protune-output  # a design study
    python tools/benchmark_transfer.py \\
        --reuse-records docs/transfer_records            # continue a study
    python tools/benchmark_transfer.py \\
        --from-json work_dirs/transfer/transfer.json     # redraw only
"""
import argparse
import logging
import os
import os.path as osp
import time
import warnings
from typing import List, Optional, Sequence, Tuple

from mmengine.logging import MMLogger

from mmprotune.analysis.methods import parse_methods
from mmprotune.analysis.transfer.catalog import (BACKBONES, METHOD_TASKS,
                                                 OPT_IN_METHODS, TASKS,
                                                 backbone_methods,
                                                 backbone_tasks,
                                                 default_out_dir, is_real,
                                                 method_places)
from mmprotune.analysis.transfer.data import make_target_data
from mmprotune.analysis.transfer.pictures import plot_predictions
from mmprotune.analysis.transfer.records import run_name
from mmprotune.analysis.transfer.report import redraw, write_report
from mmprotune.analysis.transfer.settings import (TransferSettings,
                                                  transfer_settings)
from mmprotune.analysis.transfer.source import source_checkpoint
from mmprotune.analysis.transfer.study import run_all

#: The benchmark's method configs, in this checkout.
CONFIG_DIR = osp.join(
    osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs', 'transfer')

#: Deprecation notes of the upstream packages, and mmseg's note that the
#: configs leave the visualisation hook off; printed once per run otherwise.
NOISY_WARNINGS = ('pkg_resources is deprecated', '``build_loss`` would be',
                  'Default ``avg_non_ignore``', 'The draw is False',
                  'Warning: The (bbox|polygon) is out of bounds')


def parse_args(argv: Optional[Sequence[str]] = None
               ) -> Tuple[Optional[TransferSettings], Optional[str]]:
    """The settings of a run, or (with ``--from-json``) None and the JSON
    to draw from."""
    parser = argparse.ArgumentParser(
        description='Tune a pretrained backbone (ImageNet weights, or one '
        'pretrained here on a source task) to a target segmentation or '
        'classification task with each method and seed, and tabulate the '
        'metric (mIoU or top-1 accuracy), trainable parameters, step time '
        'and memory.')
    parser.add_argument(
        '--backbone',
        choices=list(BACKBONES),
        default='resnet18',
        help='the benchmark track: the pretrained backbone, its configs and '
        'methods (default: resnet18)')
    parser.add_argument(
        '--task',
        choices=list(TASKS),
        help='the target task: ' + ', '.join(
            f'{t} ({spec["title"]}, {spec["metric_label"]}; --backbone '
            f'{"/".join(spec["backbones"])})' for t, spec in TASKS.items()) +
        ' (default: the --backbone\'s first)')
    parser.add_argument(
        '--data-root',
        help='the folder of a real task\'s data (' + '; '.join(
            f'--task {t}: ' + ', '.join('/'.join(f) for f in spec[
                'folders'].values()) for t, spec in TASKS.items()
            if is_real(t)) + '), e.g. ../shared/data/camvid')
    parser.add_argument(
        '--test-split',
        help='the split of a real task\'s data that the test runs are '
        'evaluated on (camvid: val, the default, or test, the official '
        'test split where --data-root has it); the selection runs are the '
        'same for either')
    parser.add_argument(
        '--methods',
        type=parse_methods,
        help='comma-separated methods of the --backbone (' + '; '.join(
            f'{b}: {",".join(backbone_methods(b, backbone_tasks(b)[0]))}'
            for b in BACKBONES) +
        '; ' + '; '.join(f'{m}: {", ".join(method_places(m))} only'
                         for m in METHOD_TASKS) +
        f'); default: all but {",".join(OPT_IN_METHODS)}')
    parser.add_argument(
        '--seeds',
        type=positive_int,
        help='test-split seeds per method and split (1, 2, ...; the '
        'selection runs have seed 0); a seed sets the initialisation, the '
        'data order and the training images (default: 5)')
    parser.add_argument(
        '--lr-grid',
        type=parse_floats,
        help='comma-separated learning rates every method is tried at on '
        'the selection split (seed 0); the best one trains the --seeds '
        'seeds (default: 3e-4,1e-3,3e-3,1e-2,3e-2,1e-1; --quick: 1e-3,1e-2); '
        'one '
        'value (and one --backbone-lr-mults value): no selection runs')
    parser.add_argument(
        '--backbone-lr-mults',
        type=parse_floats,
        help='comma-separated lr multipliers of what trains inside the '
        'backbone (pretrained weights, prompts, adapters), tried with each '
        '--lr-grid value by every method that trains some (all but '
        'head-only); heads stay at the lr (default: 1,0.1; --quick: 1)')
    parser.add_argument(
        '--select-only',
        action='store_true',
        help='run the selection phase only (a design study on the '
        'selection split, e.g. Pro-tuning variants as methods): no test '
        'runs')
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
        '--num-val',
        type=positive_int,
        help='test images (the target data\'s validation images)')
    parser.add_argument(
        '--num-select',
        type=positive_int,
        help='selection images (the first training images)')
    parser.add_argument(
        '--pool-size',
        type=positive_int,
        help='training images each seed draws its splits from (default: '
        'twice the largest of --train-sizes and the shipped splits)')
    parser.add_argument(
        '--quick',
        action='store_true',
        help='smoke-run defaults: lr grid 1e-3,1e-2, 1 seed, 4 iterations, '
        'tiny data')
    parser.add_argument(
        '--out-dir',
        help='where the table, JSON, plot, checkpoint, data and logs go '
        '(default: ' + ', '.join(
            f'{default_out_dir(t, b)} for --task {t} --backbone {b}'
            for t in TASKS for b in TASKS[t]['backbones']) + ')')
    parser.add_argument(
        '--records',
        help='the folder each finished run and a copy of the source '
        'checkpoint are recorded in, and looked up in by a rerun (default: '
        '<out-dir>/records)')
    parser.add_argument(
        '--reuse-records',
        action='append',
        default=[],
        metavar='DIR',
        help='another folder of records to skip the runs (and the source '
        'pretraining) of, e.g. records committed under docs/ from an '
        'earlier machine; never written; may be given several times')
    parser.add_argument(
        '--from-json',
        metavar='JSON',
        help='draw the tables and the plots again from this transfer.json, '
        'without training (the other options are ignored)')
    args = vars(parser.parse_args(argv))
    from_json = args.pop('from_json')
    if from_json:
        if not osp.isfile(from_json):
            parser.error(f'--from-json: no such file: {from_json}')
        return None, from_json
    try:
        return transfer_settings(CONFIG_DIR, **args), None
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


def parse_floats(text: str) -> List[float]:
    """``'1e-3,1e-2'`` -> ``[0.001, 0.01]``; anything but numbers is an
    argument error (their range is checked by ``transfer_settings``)."""
    try:
        return [float(s) for s in text.split(',')]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'expected comma-separated numbers, got {text!r}') from None


def run(settings: TransferSettings, source: dict, data: dict,
        start: float) -> List[dict]:
    """Every run under a progress bar, a line per finished run, and
    ``transfer.json`` rewritten after each."""
    from rich.progress import Progress
    metric = TASKS[settings.task]['metric']
    with Progress() as progress:
        task = progress.add_task('transfer runs', total=None)

        def on_start(name: str, planned: int) -> None:
            progress.update(task, total=planned, description=name)

        def on_run(runs: List[dict], planned: int) -> None:
            write_report(settings, source, runs, time.time() - start,
                         complete=len(runs) == planned)
            progress.advance(task)
            run = runs[-1]
            # a recorded run: its file name, where a trained one's time is
            how = ('recorded, ', run['record']) if run['reused'] else \
                ('', f'{run["train_s"] + run.get("test_s", 0.):.0f} s')
            progress.console.print(
                f'{run_name(run)}: {how[0]}{metric} ({run["phase"]}) '
                f'{run[metric]:.2f}, loss {run["loss_curve"][0]:.3f} -> '
                f'{run["loss_curve"][-1]:.3f}, {how[1]}')

        return run_all(settings, source, data, on_run, on_start)


def main(argv: Optional[Sequence[str]] = None) -> None:
    settings, from_json = parse_args(argv)
    if from_json:
        print(redraw(from_json))
        return
    settings.out_dir = osp.abspath(settings.out_dir)
    os.makedirs(settings.out_dir, exist_ok=True)
    os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    for noise in NOISY_WARNINGS:
        warnings.filterwarnings('ignore', message=noise)
    # the models built outside a run's Runner (to find what trains) log
    # their weights' initialisation
    MMLogger.get_current_instance().setLevel(logging.WARNING)

    start = time.time()
    print('the source backbone (reused if present) ...', flush=True)
    source = source_checkpoint(settings)
    print(f'source: {source["summary"]}', flush=True)
    data = make_target_data(settings)
    runs = run(settings, source, data, start)
    write_report(settings, source, runs, time.time() - start, complete=True)
    # drawn from the JSON just written, as --from-json draws them
    print(redraw(osp.join(settings.out_dir, 'transfer.json')))
    if is_real(settings.task):
        plot_predictions(
            settings, runs,
            osp.join(settings.out_dir, 'transfer_predictions.png'), data)


if __name__ == '__main__':
    main()
