"""Controlled transfer benchmark: every tuning method, the same data, schedule
and evaluation, several seeds, on data and weights made here.

1. Source: a narrow ResNet-18 (width 16; ``--backbone resnet18``, the
   default) or a small Swin Transformer (width 32, patch 2, three stages;
   ``--backbone swin``) is pretrained to *count* the shapes in 64 px images
   (``tools/misc/pretrain_backbone.py --task count``) and saved as a plain
   backbone checkpoint.
2. Target: semantic segmentation of circles, squares and triangles
   (:func:`mmprotune.testing.make_ade20k_shapes`, ADE20K layout, other
   images), with an FCN head on the backbone's stride-8 last stage
   (``configs/transfer/``, one config per method and backbone), loaded
   through ``init_cfg=dict(type='Pretrained', checkpoint=...)``.
3. Each method (one config of ``configs/transfer/`` each) trains from the
   same checkpoint, on a low-data and a larger training split, with each
   seed, through a fresh mmengine ``Runner``, and is evaluated (mIoU) on the
   same validation images.

Prints a markdown table per split (mIoU mean ± std over seeds, the seeds'
values, trainable parameters, train step time, activation memory saved for
backward, per-task checkpoint size) and writes ``transfer.json`` and
``transfer.png`` into ``--out-dir`` (default ``work_dirs/transfer``, and
``work_dirs/transfer-swin`` for the Swin track). See
docs/transfer_benchmark.md.

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
import platform
import re
import statistics
import subprocess
import sys
import time
import warnings
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG_DIR = osp.join(REPO, 'configs', 'transfer')
#: Per ``--backbone`` (a track of the benchmark): the ``configs/transfer/``
#: suffix of its configs; the source: ``pretrain_args`` of
#: ``tools/misc/pretrain_backbone.py`` besides the shared ones, iterations
#: and images of the shipped benchmark, checkpoint name
#: (``checkpoint_stem``); the shipped benchmark's training splits and their
#: iterations (``splits``); the default ``--out-dir``; the name in the plot.
BACKBONES = OrderedDict(
    resnet18=dict(
        config_suffix='r18-w16-d8_1xb16-500i_shapes-ade20k-64x64.py',
        pretrain_args=('--depth', '18', '--base-channels', '16'),
        pretrain_iters=1000,
        pretrain_images=4000,
        checkpoint_stem='resnet18-w16_count',
        splits=dict(train_sizes=(50, 500), iters=(500, 1000)),
        out_dir='work_dirs/transfer',
        title='ResNet-18'),
    swin=dict(
        config_suffix='swin-e32-p2-w4_1xb16-500i_shapes-ade20k-64x64.py',
        pretrain_args=('--arch', 'swin', '--embed-dims', '32', '--lr',
                       '5e-4'),
        pretrain_iters=600,
        pretrain_images=4000,
        checkpoint_stem='swin-e32-p2-w4_count',
        splits=dict(train_sizes=(50, ), iters=(500, )),
        out_dir='work_dirs/transfer-swin',
        title='small Swin'),
)
ALL = tuple(BACKBONES)
#: Method name -> (config of ``configs/transfer/``: the prefix before the
#: backbone's suffix, the backbones it has a config for), in table order.
METHODS = OrderedDict([
    ('full', ('fcn_full', ALL)),
    ('head-only', ('fcn_head-only', ALL)),
    ('protune', ('fcn_protune', ALL)),
    ('bitfit', ('fcn_bitfit', ALL)),
    ('lora', ('fcn_lora', ALL)),
    ('conv-adapter', ('fcn_conv-adapter', ('resnet18', ))),
    ('adaptformer', ('fcn_adaptformer', ('swin', ))),
    ('vpt', ('fcn_vpt', ('swin', ))),
    ('mona', ('fcn_mona', ALL)),
    ('scratch', ('fcn_scratch', ALL)),
])
#: Not run unless ``--methods`` names them.
OPT_IN_METHODS = ('scratch', )
IMG_SIZE = 64
#: Deprecation notes of the upstream packages, and mmseg's note that the
#: configs leave the visualisation hook off; printed once per run otherwise.
NOISY_WARNINGS = ('pkg_resources is deprecated', '``build_loss`` would be',
                  'Default ``avg_non_ignore``', 'The draw is False')
PRETRAIN_SEED = 1  # the source images; the target data use seed 0
TARGET_SEED = 0

#: The shipped benchmark (with the backbone's source and ``splits``) and the
#: smoke run (``--quick``); explicit arguments override either.
SETTINGS = dict(
    full=dict(seeds=3, num_val=500),
    quick=dict(
        seeds=1,
        iters=(4, ),
        train_sizes=(8, ),
        num_val=8,
        pretrain_iters=4,
        pretrain_images=32))


def pretrain_args(backbone: str) -> tuple:
    """Arguments of ``tools/misc/pretrain_backbone.py`` for ``backbone``,
    besides ``--out``, ``--iters`` and ``--num-images``."""
    return ('--task', 'count', *BACKBONES[backbone]['pretrain_args'],
            '--img-size', str(IMG_SIZE), '--batch-size', '32', '--seed',
            str(PRETRAIN_SEED))


def backbone_methods(backbone: str) -> List[str]:
    """The methods that have a config for ``backbone``."""
    return [m for m, (_, tracks) in METHODS.items() if backbone in tracks]


def default_methods(backbone: str) -> List[str]:
    """The methods run unless ``--methods`` says otherwise."""
    return [m for m in backbone_methods(backbone) if m not in OPT_IN_METHODS]


def parse_args(argv: Optional[Sequence[str]] = None
               ) -> argparse.Namespace:
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
        f'); default: all but {",".join(OPT_IN_METHODS)}')
    parser.add_argument(
        '--seeds', type=positive_int, help='seeds per method and split (0, 1, ...)')
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
    if args.methods is None:
        args.methods = default_methods(args.backbone)
    error = methods_error(args.methods, args.backbone)
    if error:
        parser.error(error)
    if args.out_dir is None:
        args.out_dir = BACKBONES[args.backbone]['out_dir']
    defaults = SETTINGS['quick'] if args.quick else dict(
        SETTINGS['full'], **BACKBONES[args.backbone]['splits'])
    for key in ('seeds', 'train_sizes', 'num_val'):
        if getattr(args, key) is None:
            setattr(args, key, defaults[key])
    try:
        args.iters = split_iters(
            args.train_sizes, args.iters or shipped_iters(
                args.train_sizes, defaults))
    except ValueError as error:
        parser.error(str(error))
    source = defaults if args.quick else BACKBONES[args.backbone]
    args.pretrain_iters = source['pretrain_iters']
    args.pretrain_images = source['pretrain_images']
    return args


def parse_methods(text: str) -> List[str]:
    """``'full,protune'`` -> ``['full', 'protune']`` (checked against the
    backbone by :func:`methods_error`)."""
    return [m.strip() for m in text.split(',') if m.strip()]


def methods_error(methods: List[str], backbone: str) -> Optional[str]:
    """Why ``methods`` cannot run on ``backbone`` (none, or a name that is
    not one of its methods), listing the allowed ones; None if they can."""
    allowed = backbone_methods(backbone)
    unknown = [m for m in methods if m not in allowed] if methods else ['']
    if not unknown:
        return None
    elsewhere = [
        f'{m}: --backbone {"/".join(METHODS[m][1])}' for m in unknown
        if m in METHODS
    ]
    hint = f' ({"; ".join(elsewhere)})' if elsewhere else ''
    return (f'unknown method(s) {unknown} for --backbone {backbone}{hint}; '
            f'allowed: {", ".join(allowed)}')


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


def split_iters(train_sizes: Sequence[int],
                iters: Sequence[int]) -> Dict[int, int]:
    """``{train_size: iterations}``: one value for every split, or one per
    split in order; any other count is an error."""
    if len(iters) == 1:
        iters = list(iters) * len(train_sizes)
    if len(iters) != len(train_sizes):
        raise ValueError(
            f'--iters: expected 1 or {len(train_sizes)} values (one per '
            f'--train-sizes {",".join(map(str, train_sizes))}), got '
            f'{",".join(map(str, iters))}')
    return dict(zip(train_sizes, iters))


def shipped_iters(train_sizes: Sequence[int], defaults: dict) -> List[int]:
    """The shipped iterations of each of ``train_sizes``; a size without
    them is an error that asks for ``--iters``."""
    shipped = dict(zip(defaults['train_sizes'], defaults['iters']))
    missing = [size for size in train_sizes if size not in shipped]
    if missing:
        raise ValueError(
            f'--iters: no shipped iterations for --train-sizes '
            f'{",".join(map(str, missing))} (only for '
            f'{",".join(map(str, shipped))}); give --iters')
    return [shipped[size] for size in train_sizes]


def config_path(method: str, backbone: str = 'resnet18') -> str:
    """The ``configs/transfer/`` file of ``method`` on ``backbone``."""
    return osp.join(
        CONFIG_DIR,
        f'{METHODS[method][0]}-{BACKBONES[backbone]["config_suffix"]}')


# ----------------------------------------------------------------------
# source checkpoint and target data
def pretrain(args: argparse.Namespace) -> Dict[str, str]:
    """Run ``tools/misc/pretrain_backbone.py`` (unless its checkpoint
    exists); return the checkpoint path and the script's summary line."""
    stem = (f'{BACKBONES[args.backbone]["checkpoint_stem"]}-'
            f'{args.pretrain_iters}i-{args.pretrain_images}img')
    checkpoint = osp.join(args.out_dir, f'{stem}.pth')
    log_file = osp.join(args.out_dir, f'{stem}.log')
    if not osp.isfile(checkpoint):
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join(
            p for p in (REPO, env.get('PYTHONPATH')) if p)
        cmd = [
            sys.executable,
            osp.join(REPO, 'tools', 'misc', 'pretrain_backbone.py'),
            '--out', checkpoint, *pretrain_args(args.backbone), '--iters',
            str(args.pretrain_iters), '--num-images',
            str(args.pretrain_images)
        ]
        with open(log_file, 'w', encoding='utf-8') as log:
            proc = subprocess.run(
                cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            raise RuntimeError(f'pretraining failed (exit code '
                               f'{proc.returncode}); see {log_file}')
    with open(log_file, encoding='utf-8') as f:
        summary = re.findall(r'final train loss .*', f.read())
    return dict(checkpoint=checkpoint,
                summary=summary[-1] if summary else '')


def make_target_data(args: argparse.Namespace) -> str:
    """Write (once) the target set: ``max(train_sizes)`` training and
    ``num_val`` validation images; smaller splits are its first images."""
    from mmprotune.testing import make_ade20k_shapes
    num_train = max(args.train_sizes)
    data_root = osp.join(args.out_dir,
                         f'shapes_ade20k_{num_train}-{args.num_val}')
    if not osp.isdir(osp.join(data_root, 'annotations', 'validation')):
        make_ade20k_shapes(
            data_root,
            num_train=num_train,
            num_val=args.num_val,
            img_size=IMG_SIZE,
            seed=TARGET_SEED)
    return data_root


# ----------------------------------------------------------------------
# one run
def run_config(config: str, data_root: str, checkpoint: str,
               train_size: int, seed: int, iters: int, work_dir: str):
    """A method's config pointed at the data and checkpoint, with the
    split, seed and iteration count of one run; validation only at the end
    (``Runner.test``), no checkpoint written."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    cfg.work_dir = work_dir
    cfg.experiment_name = cfg.visualizer.name = osp.basename(work_dir)
    cfg.log_level = 'ERROR'  # the progress bar and results stay readable
    cfg.randomness = dict(seed=seed)
    if cfg.model.backbone.init_cfg:  # all but ``scratch``
        cfg.model.backbone.init_cfg.checkpoint = checkpoint
    train_set = cfg.train_dataloader.dataset
    train_set.update(data_root=data_root, indices=train_size)
    cfg.test_dataloader.dataset.data_root = data_root
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    old_iters = cfg.train_cfg.max_iters
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters)
    for scheduler in cfg.param_scheduler:  # the same shape, over ``iters``
        begin = round(scheduler.begin * iters / old_iters)
        scheduler.update(begin=begin, end=max(
            begin + 1, round(scheduler.end * iters / old_iters)))
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger.interval = max(1, iters // 10)
    return cfg


def run_once(cfg) -> dict:
    """Train and test ``cfg`` with a fresh Runner; return its metrics,
    parameter counts, step time, memory and checkpoint figures."""
    import numpy as np
    from mmengine.runner import Runner

    runner = Runner.from_cfg(cfg)
    start = time.perf_counter()
    runner.train()
    train_s = time.perf_counter() - start
    hub = runner.message_hub
    step_s = np.asarray(hub.get_scalar('train/time').data[0]) - np.asarray(
        hub.get_scalar('train/data_time').data[0])
    losses = np.asarray(hub.get_scalar('train/loss').data[0])
    result = dict(
        train_s=train_s,
        step_s=float(np.median(step_s)),
        loss_curve=[float(c.mean()) for c in np.array_split(losses, 10)
                    if len(c)])
    start = time.perf_counter()
    metrics = runner.test()
    result['test_s'] = time.perf_counter() - start
    # mmseg's IoUMetric returns numpy scalars (np.float32 under numpy 2)
    result.update(
        {key: float(metrics[key])
         for key in ('mIoU', 'aAcc', 'mAcc')})
    # after the test: its training-mode forward updates BN statistics
    result.update(model_figures(runner))
    return result


def model_figures(runner) -> dict:
    """Trainable parameters (all, backbone), bytes autograd saves for
    backward on one training batch, and the per-task checkpoint size (the
    delta of a frozen backbone, else the whole model)."""
    from mmprotune.analysis.benchmark import serialized_size
    from mmprotune.engine.delta import split_delta
    from mmprotune.models import PromptedBackboneMixin
    from mmprotune.utils import count_parameters
    from mmprotune.utils.memory import saved_tensor_bytes

    model = runner.model
    counts = count_parameters(model)
    backbone_trainable = sum(
        counts[part]['trainable']
        for part in ('backbone.prompts', 'backbone (trainable)'))
    batch = next(iter(runner.train_dataloader))
    data = model.data_preprocessor(batch, True)
    tensors = list(model.parameters()) + list(model.buffers())
    saved, losses = saved_tensor_bytes(lambda: model(**data, mode='loss'),
                                       tensors)
    del losses
    state = model.state_dict()
    if isinstance(model.backbone, PromptedBackboneMixin):
        state = split_delta(model, state)[0]
    return dict(
        trainable_params=counts['all']['trainable'],
        backbone_trainable_params=backbone_trainable,
        saved_bytes=saved,
        checkpoint_bytes=serialized_size(state))


# ----------------------------------------------------------------------
# summary
def summarize(runs: List[dict]) -> Dict[int, Dict[str, dict]]:
    """``{train_size: {method: summary}}`` over the seeds of each pair:
    mIoU mean, sample std and per-seed values (in %), and the median step
    time; the figures that do not depend on the seed from the first run."""
    table: Dict[int, Dict[str, dict]] = OrderedDict()
    for run in runs:
        table.setdefault(run['train_size'], OrderedDict()).setdefault(
            run['method'], []).append(run)
    for size, methods in table.items():
        for method, seeds in methods.items():
            mious = [r['mIoU'] for r in seeds]
            first = seeds[0]
            methods[method] = dict(
                mIoU_mean=statistics.mean(mious),
                mIoU_std=statistics.stdev(mious) if len(mious) > 1 else 0.,
                mIoU_seeds=mious,
                step_s=statistics.median(r['step_s'] for r in seeds),
                **{
                    key: first[key]
                    for key in ('trainable_params',
                                'backbone_trainable_params', 'saved_bytes',
                                'checkpoint_bytes')
                })
    return table


def markdown(table: Dict[int, Dict[str, dict]],
             iters: Dict[int, int]) -> str:
    """One markdown table per training split (``iters``: its training
    iterations)."""
    blocks = []
    for size, methods in table.items():
        lines = [
            f'**{size} training images, {iters[size]} iterations** (mIoU in '
            '%, '
            'mean ± sample std over seeds)', '',
            '| method | mIoU | seeds | vs head-only | trainable params '
            '(backbone) | train step | saved for backward | per-task '
            'checkpoint |',
            '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |'
        ]
        base = methods.get('head-only')
        for method, s in methods.items():
            seeds = ' / '.join(f'{v:.1f}' for v in s['mIoU_seeds'])
            gap = f'{s["mIoU_mean"] - base["mIoU_mean"]:+.1f}' \
                if base else '–'
            lines.append(
                f'| {method} | {s["mIoU_mean"]:.1f} ± {s["mIoU_std"]:.1f} | '
                f'{seeds} | {gap} | {s["trainable_params"]:,} '
                f'({s["backbone_trainable_params"]:,}) | '
                f'{1e3 * s["step_s"]:.0f} ms | '
                f'{s["saved_bytes"] / 2**20:.1f} MiB | '
                f'{s["checkpoint_bytes"] / 2**20:.2f} MiB |')
        blocks.append('\n'.join(lines))
    return '\n\n'.join(blocks)


def plot(table: Dict[int, Dict[str, dict]], path: str,
         backbone: str = 'resnet18') -> None:
    """Grouped bars of mIoU (± std, seeds as dots) per method and split."""
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
        ax.bar(xs, [summaries[m]['mIoU_mean'] for m in done], width,
               yerr=[summaries[m]['mIoU_std'] for m in done], capsize=3,
               label=f'{size} training images')
        for x, method in zip(xs, done):
            values = summaries[method]['mIoU_seeds']
            ax.plot([x] * len(values), values, 'k.', markersize=3)
    ax.set_xticks(range(len(methods)))
    ax.set_xticklabels(methods, rotation=20, ha='right')
    ax.set_ylabel('mIoU (%)')
    ax.set_title(f'Transfer: count-pretrained {BACKBONES[backbone]["title"]}'
                 ' -> shape segmentation')
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def cpu_name() -> str:
    """The CPU model from ``/proc/cpuinfo`` (Linux), else what
    ``platform`` knows."""
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            names = re.findall(r'^model name\s*:\s*(.+)$', f.read(), re.M)
    except OSError:
        names = []
    return names[0] if names else platform.processor()


def run_all(args: argparse.Namespace, source: dict, data_root: str,
            start: float) -> List[dict]:
    """Every (split, method, seed) run, in that order, under a progress
    bar; one line per finished run, and ``transfer.json`` rewritten after
    each (``complete: false`` until the last), so that a stopped benchmark
    keeps what it measured."""
    from rich.progress import Progress
    plan = [(size, method, seed) for size in args.train_sizes
            for method in args.methods for seed in range(args.seeds)]
    runs: List[dict] = []
    with Progress() as progress:
        task = progress.add_task('transfer runs', total=len(plan))
        for size, method, seed in plan:
            name = f'n{size}_{method}_seed{seed}'
            progress.update(task, description=name)
            config = config_path(method, args.backbone)
            cfg = run_config(config, data_root, source['checkpoint'], size,
                             seed, args.iters[size],
                             osp.join(args.out_dir, 'runs', name))
            result = run_once(cfg)
            runs.append(dict(train_size=size, method=method, seed=seed,
                             config=osp.relpath(config, REPO), **result))
            write_report(args, source, runs, time.time() - start,
                         complete=len(runs) == len(plan))
            progress.console.print(
                f'{name}: mIoU {result["mIoU"]:.2f}, loss '
                f'{result["loss_curve"][0]:.3f} -> '
                f'{result["loss_curve"][-1]:.3f}, '
                f'{result["train_s"] + result["test_s"]:.0f} s')
            progress.advance(task)
    return runs


def write_report(args: argparse.Namespace, source: dict, runs: List[dict],
                 total_s: float, complete: bool) -> dict:
    """Write ``transfer.json``: settings, machine, source, the summary and
    every run so far; return it."""
    import mmengine
    settings = {
        key: getattr(args, key)
        for key in ('backbone', 'methods', 'seeds', 'iters', 'train_sizes',
                    'num_val', 'pretrain_iters', 'pretrain_images')
    }
    settings.update(img_size=IMG_SIZE,
                    pretrain_args=pretrain_args(args.backbone),
                    target_seed=TARGET_SEED)
    summary = {str(k): v for k, v in summarize(runs).items()}
    report = dict(settings=settings, machine=machine(), source=source,
                  complete=complete, total_s=total_s, summary=summary,
                  runs=runs)
    # mmengine's dump turns numpy scalars into Python numbers, and writes
    # atomically once mmprotune is imported (AtomicLocalBackend)
    mmengine.dump(report, osp.join(args.out_dir, 'transfer.json'), indent=2)
    return report


def machine() -> dict:
    """What the timings were measured on."""
    import torch
    return dict(platform=platform.platform(), processor=cpu_name(),
                cpus=os.cpu_count(), torch=torch.__version__,
                torch_threads=torch.get_num_threads(),
                cuda=torch.cuda.get_device_name()
                if torch.cuda.is_available() else None)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    args.out_dir = osp.abspath(args.out_dir)
    os.makedirs(args.out_dir, exist_ok=True)
    os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    for noise in NOISY_WARNINGS:
        warnings.filterwarnings('ignore', message=noise)

    start = time.time()
    print('pretraining the source backbone (reused if present) ...',
          flush=True)
    source = pretrain(args)
    print(f'source: {source["summary"]}', flush=True)
    data_root = make_target_data(args)
    runs = run_all(args, source, data_root, start)
    table = summarize(runs)
    report = write_report(args, source, runs, time.time() - start,
                          complete=True)
    plot(table, osp.join(args.out_dir, 'transfer.png'), args.backbone)
    device = report['machine']['cuda'] or report['machine']['processor']
    print(f'\n{len(runs)} runs in {report["total_s"] / 60:.1f} min on '
          f'{device}; mIoU on {args.num_val} validation images\n')
    print(markdown(table, args.iters))


if __name__ == '__main__':
    main()
