"""Pro-tuning demo: frozen pretrained ResNet-18 + prompt blocks on a detector.

Runs end to end on a CPU in about 20 minutes, with no download:

1. write the synthetic COCO-layout "shapes" dataset (if absent);
2. pretrain the ResNet-18 on a source task (if its checkpoint is absent):
   ``tools/misc/pretrain_backbone.py``;
3. train the detector on the frozen backbone twice with ``tools/train.py``:
   the head-only baseline (no prompt blocks: the frozen backbone as it is,
   derived from the config by
   :func:`mmprotune.analysis.methods.method_variants`) and Pro-tuning
   (trainable prompts), the neck and heads trained in both;
4. evaluate each saved checkpoint with ``tools/test.py --show-dir``, which
   also draws its predictions on every validation image (ground truth left,
   predictions right; mmdet's ``DetVisualizationHook``);
5. print the COCO metrics of both, where their pictures are, the
   trainable-parameter figures and the time of each step.

Example::

    python tools/demo.py            # the full demo (bash tools/demo.sh)
    python tools/demo.py --quick    # a tiny smoke run
"""
import argparse
import os
import os.path as osp
import re
import subprocess
import sys
import time
import warnings
from collections import OrderedDict
from typing import Dict, Sequence

with warnings.catch_warnings():  # pkg_resources deprecation notes
    warnings.simplefilter('ignore')
    from mmengine.config import Config
    from mmengine.logging import MMLogger

    from mmprotune.analysis.methods import method_variants
    from mmprotune.datasets import make_coco_shapes
    from mmprotune.testing import REPO_ROOT, repo_env, tool_command
    from mmprotune.utils import build_model, count_parameters

DEFAULT_CONFIG = osp.join(
    REPO_ROOT, 'configs', 'demo',
    'faster-rcnn_protune-r18_fpn_1xb8-300i_shapes-coco.py')
PRETRAINED_NAME = 'resnet18_shapes-pretrain.pth'
DATA_SEED = 0  # the pretraining uses its own seed (tools/misc/...: 1)
#: The models the demo trains, tests and draws: the frozen backbone as it is
#: (the baseline), then Pro-tuned.
METHODS = OrderedDict([('head-only', 'head-only (frozen backbone)'),
                       ('protune', 'Pro-tuning')])

#: Sizes of the full and the quick run.
SETTINGS = dict(
    full=dict(
        num_train=300,
        num_val=60,
        img_size=128,
        pretrain=['--iters', '300', '--img-size', '64', '--batch-size', '32',
                  '--num-images', '2000'],
        max_iters=None,
        score_thr=0.3),  # DetVisualizationHook's default
    quick=dict(
        num_train=16,
        num_val=8,
        img_size=128,
        pretrain=['--iters', '4', '--img-size', '64', '--batch-size', '8',
                  '--num-images', '32'],
        max_iters=4,
        # after 4 iterations no box scores the drawing's default 0.3
        score_thr=0.0))

#: Child-process log lines worth echoing to the console (after the logger's
#: ``<date> <time> - mmengine - INFO - `` prefix is cut).
ECHO = re.compile(r'Iter\((train|val|test)\)|^ProTune|^source data|^iter |'
                  r'^final train|^saved |Traceback|Error:')
LOG_PREFIX = re.compile(r'^\S+ \S+ - mmengine - \w+ - ')
METRIC = re.compile(r'coco/(\w+): (-?[\d.]+)')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Pretrain a ResNet-18, train a detector on it frozen '
        'without (head-only) and with prompt blocks (Pro-tuning), evaluate '
        'both, draw their predictions, and summarise metrics, pictures, '
        'parameters and times.')
    parser.add_argument(
        '--config',
        default=DEFAULT_CONFIG,
        help='the Pro-tuning config (a ProTune* backbone); its head-only '
        'baseline is derived from it')
    parser.add_argument(
        '--work-dir',
        help='where checkpoints and logs go (default: work_dirs/demo, '
        'work_dirs/demo_quick with --quick)')
    parser.add_argument(
        '--data-root',
        help='synthetic dataset folder, written if absent (default: '
        'data/shapes_coco, data/shapes_coco_quick with --quick)')
    parser.add_argument(
        '--quick',
        action='store_true',
        help='tiny data, a few iterations: a smoke run of every step')
    return parser.parse_args()


class StepFailed(RuntimeError):
    """A demo step (a child process) failed."""


def run_step(name: str, cmd: Sequence[str], log_file: str) -> str:
    """Run ``cmd`` (:func:`mmprotune.testing.tool_command`) with the repo
    root on ``PYTHONPATH`` (:func:`mmprotune.testing.repo_env`), echo its key
    lines, keep its whole output in ``log_file`` and return that output."""
    print(f'[demo] {name}: {" ".join(cmd)}', flush=True)
    lines = []
    with open(log_file, 'w', encoding='utf-8') as log, subprocess.Popen(
            list(cmd),
            cwd=REPO_ROOT,
            env=repo_env(PYTHONUNBUFFERED='1'),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True) as proc:
        for line in proc.stdout:
            log.write(line)
            lines.append(line)
            message = LOG_PREFIX.sub('', line.rstrip())
            if ECHO.search(message):
                print(f'    {message[:160]}', flush=True)
        proc.wait()
    output = ''.join(lines)
    if proc.returncode != 0:
        print(''.join(lines[-40:]), file=sys.stderr)
        raise StepFailed(f'{name} failed (exit code {proc.returncode}); '
                         f'full log: {log_file}')
    return output


def make_data(data_root: str, num_train: int, num_val: int,
              img_size: int) -> str:
    """Write the demo dataset unless ``data_root`` already holds one."""
    val_ann = osp.join(data_root, 'annotations', 'instances_val2017.json')
    if osp.isfile(val_ann):
        return f'reused {data_root}'
    info = make_coco_shapes(
        data_root, num_train, num_val, img_size=img_size, seed=DATA_SEED)
    return (f'wrote {data_root}: {info["num_train"]} train images '
            f'({info["num_train_instances"]} instances), {info["num_val"]} '
            f'val images ({info["num_val_instances"]} instances) at '
            f'{img_size} px')


def format_parameters(counts: Dict[str, dict]) -> str:
    """The parts of :func:`mmprotune.utils.count_parameters` that have
    parameters, one line each: total, trainable and their share."""
    lines = [f'  {"part":<30}{"total":>12}{"trainable":>12}{"%":>9}']
    for name, count in counts.items():
        total, trainable = count['total'], count['trainable']
        if not total:
            continue
        lines.append(f'  {name:<30}{total:>12,}{trainable:>12,}'
                     f'{100 * trainable / total:>8.2f}%')
    return '\n'.join(lines)


def parse_metrics(output: str) -> Dict[str, float]:
    """The last ``coco/<name>: <value>`` of each metric in a test log."""
    return {name: float(value) for name, value in METRIC.findall(output)}


def write_head_only_config(config: str, out_dir: str) -> str:
    """Write the head-only baseline of the Pro-tuning ``config`` (the same
    config without prompt blocks) into ``out_dir``, named as ``config`` with
    ``head-only`` for ``protune``; return its path."""
    cfg = method_variants(Config.fromfile(config), ['head-only'])['head-only']
    name = osp.basename(config)
    name = name.replace('protune', 'head-only') if 'protune' in name else \
        f'head-only_{name}'
    os.makedirs(out_dir, exist_ok=True)
    path = osp.join(out_dir, name)
    cfg.dump(path)
    return path


def last_checkpoint(work_dir: str) -> str:
    """The checkpoint that ``tools/train.py`` saved last."""
    with open(osp.join(work_dir, 'last_checkpoint'), encoding='utf-8') as f:
        path = f.read().strip()
    if not osp.isfile(path):
        raise StepFailed(f'no checkpoint at {path!r}')
    return path


def main() -> int:
    args = parse_args()
    mode = 'quick' if args.quick else 'full'
    settings = SETTINGS[mode]
    suffix = '_quick' if args.quick else ''
    work_dir = osp.abspath(args.work_dir or
                           osp.join('work_dirs', 'demo' + suffix))
    data_root = osp.abspath(args.data_root or
                            osp.join('data', 'shapes_coco' + suffix))
    config = osp.abspath(args.config)
    log_dir = osp.join(work_dir, 'demo_logs')
    os.makedirs(log_dir, exist_ok=True)
    pretrained = osp.join(work_dir, PRETRAINED_NAME)
    ann = osp.join(data_root, 'annotations', 'instances_val2017.json')
    data_root_slash = data_root.rstrip('/') + '/'
    cfg_options = [
        f'model.backbone.init_cfg.checkpoint={pretrained}',
        f'train_dataloader.dataset.data_root={data_root_slash}',
        f'val_dataloader.dataset.data_root={data_root_slash}',
        f'test_dataloader.dataset.data_root={data_root_slash}',
        f'val_evaluator.ann_file={ann}',
        f'test_evaluator.ann_file={ann}',
    ]
    if settings['max_iters']:
        n = settings['max_iters']
        cfg_options += [
            f'train_cfg.max_iters={n}', f'train_cfg.val_interval={n}',
            f'default_hooks.checkpoint.interval={n}',
            'default_hooks.logger.interval=1'
        ]
    # the boxes drawn by tools/test.py --show-dir
    test_options = [
        f'default_hooks.visualization.score_thr={settings["score_thr"]}'
    ]

    times: Dict[str, float] = OrderedDict()
    notes: Dict[str, str] = {}
    metrics: Dict[str, Dict[str, float]] = {}
    pictures: Dict[str, str] = {}
    start = time.time()
    try:
        t = time.time()
        notes['data'] = make_data(data_root, settings['num_train'],
                                  settings['num_val'], settings['img_size'])
        print(f'[demo] data: {notes["data"]}', flush=True)
        times['1. data'] = time.time() - t

        t = time.time()
        if osp.isfile(pretrained):
            notes['pretrain'] = f'reused {pretrained}'
        else:
            out = run_step(
                'pretrain',
                tool_command('tools/misc/pretrain_backbone.py', '--out',
                             pretrained, *settings['pretrain']),
                osp.join(log_dir, 'pretrain.log'))
            found = re.findall(r'final train loss .*', out)
            notes['pretrain'] = found[-1] if found else 'done'
        times['2. pretrain backbone'] = time.time() - t

        configs = dict(
            protune=config,
            **{'head-only': write_head_only_config(
                config, osp.join(work_dir, 'head-only'))})
        checkpoints = {}
        for i, (method, name) in enumerate(METHODS.items()):
            t = time.time()
            run_step(
                f'train {method}',
                tool_command('tools/train.py', configs[method], '--work-dir',
                             osp.join(work_dir, method), '--cfg-options',
                             *cfg_options),
                osp.join(log_dir, f'train_{method}.log'))
            checkpoints[method] = last_checkpoint(osp.join(work_dir, method))
            times[f'{3 + i}. train {name}'] = time.time() - t

        for i, (method, name) in enumerate(METHODS.items()):
            t = time.time()
            pictures[method] = osp.join(work_dir, 'pictures', method)
            out = run_step(
                f'test {method}',
                tool_command('tools/test.py', configs[method],
                             checkpoints[method], '--work-dir',
                             osp.join(work_dir, method, 'test'), '--show-dir',
                             pictures[method], '--cfg-options', *cfg_options,
                             *test_options),
                osp.join(log_dir, f'test_{method}.log'))
            metrics[method] = parse_metrics(out)
            if 'bbox_mAP' not in metrics[method]:
                raise StepFailed('no coco/bbox_mAP in the test log '
                                 f'{osp.join(log_dir, f"test_{method}.log")}')
            times[f'{5 + i}. test {name}'] = time.time() - t

        t = time.time()
        # the training log already has the backbone's own report
        MMLogger.get_instance('mmprotune_demo', log_level='WARNING')
        params = count_parameters(build_model(Config.fromfile(config)))
        times['7. count parameters'] = time.time() - t
    except StepFailed as err:
        print(f'[demo] FAILED: {err}', file=sys.stderr)
        return 1
    total = time.time() - start

    print('\n' + '=' * 72)
    print(f'Pro-tuning demo summary ({mode} run)')
    print(f'  config:     {osp.relpath(config, REPO_ROOT)}')
    print(f'  baseline:   {configs["head-only"]}')
    print(f'  data:       {notes["data"]}')
    print(f'  pretrain:   {notes["pretrain"]}')
    for method, name in METHODS.items():
        print(f'  {name}: {checkpoints[method]}')
    print('COCO metrics on the val split (tools/test.py):')
    for method, name in METHODS.items():
        print(f'  {name}')
        for kind in ('bbox', 'segm'):
            found = metrics[method]
            if f'{kind}_mAP' in found:
                print(f'    {kind} mAP: {found[f"{kind}_mAP"]:.3f}   '
                      f'mAP_50: {found.get(f"{kind}_mAP_50", -1):.3f}   '
                      f'mAP_75: {found.get(f"{kind}_mAP_75", -1):.3f}')
    print('Pictures of the predictions on the val images, the same file '
          'names for both models (ground truth left, predictions right, '
          f'boxes scoring {settings["score_thr"]} or more):')
    for method, name in METHODS.items():
        print(f'  {name:<28}{pictures[method]}')
    print('Parameters (Pro-tuning):')
    print(format_parameters(params))
    print('Wall time:')
    for step, seconds in times.items():
        print(f'  {step:<36}{seconds:>8.1f} s')
    print(f'  {"total":<36}{total:>8.1f} s')
    print('=' * 72)
    return 0


if __name__ == '__main__':
    sys.exit(main())
