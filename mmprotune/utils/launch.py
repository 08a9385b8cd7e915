"""What ``tools/train.py`` and ``tools/test.py`` do besides parsing
arguments: one entry point for mmdet, mmseg and mmpretrain configs, picked by
the config's ``default_scope``, and the config changes their options ask
for."""
import argparse
import importlib
import os
import os.path as osp
import subprocess
import warnings
from copy import deepcopy
from typing import Optional, Sequence, Tuple

import torch
import torch.distributed as torch_dist
from mmengine.config import Config, ConfigDict, DictAction
from mmengine.logging import print_log
from mmengine.runner import Runner

from .model import SUPPORTED_SCOPES, check_scope  # noqa: F401 (public here)


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """``--work-dir``, ``--cfg-options``, ``--launcher`` and
    ``--local-rank``, as both tools take them."""
    parser.add_argument(
        '--work-dir',
        help='where logs and checkpoints go (default: the config\'s '
        'work_dir, else ./work_dirs/<config name>)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='KEY=VALUE pairs merged into the config, e.g. '
        'train_cfg.max_iters=100 "model.backbone.prompt_cfg.stages=[1,3]" '
        '(quote lists and tuples; no spaces inside a value)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torchrun passes `--local-rank`, older launchers `--local_rank`
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_tool_args(parser: argparse.ArgumentParser,
                    argv: Optional[Sequence[str]] = None
                    ) -> argparse.Namespace:
    """Parse ``argv`` (default: ``sys.argv[1:]``), and export
    ``LOCAL_RANK`` when the launcher did not."""
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def load_config(path: str,
                launcher: str = 'none',
                cfg_options: Optional[dict] = None,
                work_dir: Optional[str] = None) -> Tuple[Config, str]:
    """Load ``path`` as the scope's own tools do.

    ``--cfg-options`` are merged, ``work_dir`` is CLI > config >
    ``./work_dirs/<config name>``. Without CUDA, a distributed launch uses
    gloo and a CPU DDP (mmengine 0.10.7's own set-up assumes a GPU); with
    ``--launcher slurm`` the ranks come from Slurm's variables
    (:func:`export_slurm_rank`).

    Returns:
        tuple: The config and its scope, ``'mmdet'``, ``'mmseg'`` or
        ``'mmpretrain'``.
    """
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    scope = check_scope(cfg, path)
    if scope == 'mmdet':
        # fewer repeated dynamo compilations, as mmdet's tools do
        from mmdet.utils import setup_cache_size_limit_of_dynamo
        setup_cache_size_limit_of_dynamo()
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(path))[0])
    if launcher == 'slurm':
        check_slurm_task()
    if launcher != 'none' and not torch.cuda.is_available():
        if not torch_dist.is_initialized():
            if launcher == 'slurm':
                export_slurm_rank()
            torch_dist.init_process_group(backend='gloo')
        wrapper = cfg.get('model_wrapper_cfg') or {}
        cfg.model_wrapper_cfg = dict(
            dict(type='MMDistributedDataParallel', broadcast_buffers=False,
                 find_unused_parameters=cfg.get('find_unused_parameters',
                                                False)),
            **wrapper, device_ids=None)
    return cfg, scope


def check_slurm_task() -> None:
    """``--launcher slurm``: this process must be a task started by
    ``srun``.

    Raises:
        RuntimeError: ``SLURM_PROCID``, ``SLURM_NTASKS`` or
            ``SLURM_NODELIST`` is not set.
    """
    missing = [
        name for name in ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST')
        if name not in os.environ
    ]
    if missing:
        raise RuntimeError(
            '--launcher slurm needs the variables srun sets for each task; '
            f'not set: {", ".join(missing)}. Start the tool with '
            'tools/slurm_train.sh / tools/slurm_test.sh (or srun), or use '
            '--launcher none or pytorch.')


def export_slurm_rank() -> None:
    """Set ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
    ``MASTER_PORT`` from the variables ``srun`` gives each task, as
    mmengine's slurm launcher does (its own set-up also selects a GPU, which
    fails without CUDA): the address is the first host of
    ``scontrol show hostname $SLURM_NODELIST`` unless ``MASTER_ADDR`` is set,
    the port ``MASTER_PORT`` or 29500.

    Raises:
        RuntimeError: A Slurm variable is missing (see
            :func:`check_slurm_task`), or ``scontrol`` fails.
    """
    check_slurm_task()
    if 'MASTER_ADDR' not in os.environ:
        node_list = os.environ['SLURM_NODELIST']
        command = ['scontrol', 'show', 'hostname', node_list]
        try:
            hosts = subprocess.run(command, capture_output=True, text=True,
                                   check=True).stdout.split()
        except (OSError, subprocess.CalledProcessError) as error:
            hosts, why = [], getattr(error, 'stderr', None) or error
        else:
            why = 'it printed no host'
        if not hosts:
            raise RuntimeError(f'`{" ".join(command)}` (SLURM_NODELIST) '
                               f'failed: {why}')
        os.environ['MASTER_ADDR'] = hosts[0]
    os.environ.setdefault('MASTER_PORT', '29500')
    os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
    os.environ['RANK'] = os.environ['SLURM_PROCID']
    os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')


def build_runner(cfg: Config, scope: str) -> Runner:
    """The config's ``runner_type`` from the scope's registry, or mmengine's
    ``Runner``."""
    if 'runner_type' in cfg:
        runners = importlib.import_module(f'{scope}.registry').RUNNERS
        return runners.build(cfg)
    return Runner.from_cfg(cfg)


def close_distributed() -> None:
    """Leave no live process group at exit (it can abort gloo workers)."""
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.destroy_process_group()


# ----------------------------------------------------------------------
# tools/train.py options
def enable_amp(cfg: Config) -> None:
    """``--amp``: fp16 with dynamic loss scaling on a GPU
    (``AmpOptimWrapper``), bf16 autocast without one
    (``BF16AutocastOptimWrapper``).

    Raises:
        ValueError: ``optim_wrapper.type`` is not ``'OptimWrapper'``.
    """
    wrapper_type = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if wrapper_type != 'OptimWrapper':
        already = ' (AMP is already enabled in the config)' \
            if wrapper_type in ('AmpOptimWrapper',
                                'BF16AutocastOptimWrapper') else ''
        raise ValueError(
            '`--amp` needs `optim_wrapper.type="OptimWrapper"`, but the '
            f'config has {wrapper_type!r}{already}.')
    if torch.cuda.is_available():
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    else:
        # mmengine's AmpOptimWrapper cannot be built without a GPU
        cfg.optim_wrapper.type = 'BF16AutocastOptimWrapper'
        print_log('--amp without a GPU: bf16 autocast '
                  '(BF16AutocastOptimWrapper)', logger='current')


def enable_auto_scale_lr(cfg: Config) -> None:
    """``--auto-scale-lr``: turn on the config's ``auto_scale_lr``.

    Raises:
        RuntimeError: The config has no ``auto_scale_lr.enable`` or
            ``auto_scale_lr.base_batch_size``.
    """
    auto_scale_lr = cfg.get('auto_scale_lr') or {}
    if 'enable' not in auto_scale_lr or \
            'base_batch_size' not in auto_scale_lr:
        raise RuntimeError('Can not find "auto_scale_lr" or '
                           '"auto_scale_lr.enable" or '
                           '"auto_scale_lr.base_batch_size" in your '
                           'configuration file.')
    cfg.auto_scale_lr.enable = True


def set_resume(cfg: Config, resume: str) -> None:
    """``--resume [CKPT]``: from ``resume``, or with ``'auto'`` from the
    latest checkpoint in the work directory (an explicit checkpoint takes
    priority over auto-resuming)."""
    cfg.resume = True
    cfg.load_from = None if resume == 'auto' else resume


# ----------------------------------------------------------------------
# tools/test.py options
def check_test_out(scope: str, out: Optional[str]) -> None:
    """``--out`` of mmdet and mmpretrain is a pickle file (mmseg's is a
    folder).

    Raises:
        ValueError: An mmdet / mmpretrain ``out`` that is not ``.pkl`` /
            ``.pickle``.
    """
    if scope != 'mmseg' and out is not None and \
            not out.endswith(('.pkl', '.pickle')):
        raise ValueError(f'--out must be a .pkl or .pickle file, got {out!r}.')


def enable_visualization(cfg: Config, scope: str, show: bool,
                         wait_time: float, show_dir: Optional[str]) -> None:
    """``--show`` / ``--show-dir``: turn on ``default_hooks.visualization``
    (mmdet's DetVisualizationHook, mmseg's SegVisualizationHook,
    mmpretrain's VisualizationHook), drawing every test image unless the
    config sets the hook's ``interval`` (mmseg's draws one image in 50 by
    default, mmpretrain's one in 5000).

    Raises:
        RuntimeError: The config has no visualization hook.
    """
    hook = cfg.default_hooks.get('visualization')
    if hook is None:
        raise RuntimeError(
            'VisualizationHook must be included in default_hooks, e.g. '
            '"visualization=dict(type=\'DetVisualizationHook\')" (mmdet), '
            '"visualization=dict(type=\'SegVisualizationHook\')" (mmseg) or '
            '"visualization=dict(type=\'VisualizationHook\')" (mmpretrain).')
    hook['enable' if scope == 'mmpretrain' else 'draw'] = True
    hook.setdefault('interval', 1)
    if show:
        hook['show'] = True
        hook['wait_time'] = wait_time
    if show_dir:
        # mmdet's and mmpretrain's hooks take the dir themselves, mmseg's
        # goes via the visualizer
        if scope == 'mmdet':
            hook['test_out_dir'] = show_dir
        elif scope == 'mmpretrain':
            hook['out_dir'] = show_dir
        else:
            cfg.visualizer['save_dir'] = show_dir


#: ``--tta``'s ``tta_model`` when the config defines none, as the scope's
#: own ``tools/test.py`` sets it (mmseg's has none).
DEFAULT_TTA_MODELS = dict(
    mmdet=dict(
        type='DetTTAModel',
        tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5),
                     max_per_img=100)),
    mmpretrain=dict(type='mmpretrain.AverageClsScoreTTA'))


def default_flip_tta(cfg: Config, scope: str) -> None:
    """Fill in the scope's default flip TTA (mmdet, mmpretrain) when the
    config defines none: :data:`DEFAULT_TTA_MODELS` and the test pipeline
    with its packing step run on the image and on its horizontal flip."""
    if 'tta_model' not in cfg:
        warnings.warn('Cannot find ``tta_model`` in config, '
                      'we will set it as default.')
        cfg.tta_model = deepcopy(DEFAULT_TTA_MODELS[scope])
    if 'tta_pipeline' not in cfg:
        warnings.warn('Cannot find ``tta_pipeline`` in config, '
                      'we will set it as default.')
        data_cfg = cfg.test_dataloader.dataset
        while 'dataset' in data_cfg:
            data_cfg = data_cfg['dataset']
        cfg.tta_pipeline = deepcopy(data_cfg.pipeline)
        flips = [
            dict(type='RandomFlip', prob=1.),
            dict(type='RandomFlip', prob=0.)
        ]
        # mmpretrain keeps its packing step as it is
        pack = dict(
            type='PackDetInputs',
            meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                       'scale_factor', 'flip', 'flip_direction')
        ) if scope == 'mmdet' else cfg.tta_pipeline[-1]
        cfg.tta_pipeline[-1] = dict(
            type='TestTimeAug', transforms=[flips, [pack]])


def enable_tta(cfg: Config, scope: str) -> None:
    """``--tta``: wrap the model in the config's ``tta_model`` and test with
    its ``tta_pipeline`` (mmdet, mmpretrain: their default flip TTA if
    none).

    Raises:
        RuntimeError: An mmseg config without ``tta_model`` and
            ``tta_pipeline``.
    """
    if scope in DEFAULT_TTA_MODELS:
        default_flip_tta(cfg, scope)
    elif 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
        raise RuntimeError(
            '--tta needs `tta_model` and `tta_pipeline` in the config.')
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline


def set_test_out(cfg: Config, out: str) -> None:
    """mmseg's ``--out``: ``IoUMetric`` writes the predicted maps to the
    folder ``out`` (mmdet's and mmpretrain's pickle needs the Runner:
    :func:`dump_results`).

    The folder is made here, by every process: ``IoUMetric`` makes it in the
    main process only, so under a multi-process launch another process could
    write its first map before it exists.
    """
    os.makedirs(out, exist_ok=True)
    cfg.test_evaluator['output_dir'] = out
    cfg.test_evaluator['keep_results'] = True


def dump_results(runner: Runner, scope: str, out: str) -> None:
    """mmdet's and mmpretrain's ``--out``: a dummy metric that dumps the
    predictions to the pickle file ``out`` (mmdet's ``DumpDetResults``,
    mmengine's ``DumpResults`` for mmpretrain, as their tools do)."""
    if scope == 'mmdet':
        from mmdet.evaluation import DumpDetResults as DumpResults
    else:
        from mmengine.evaluator import DumpResults
    runner.test_evaluator.metrics.append(DumpResults(out_file_path=out))
