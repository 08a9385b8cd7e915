"""What ``tools/train.py`` and ``tools/test.py`` share: one entry point for
mmdet and mmseg configs, picked by the config's ``default_scope``."""
import argparse
import importlib
import os
import os.path as osp
from typing import Optional, Tuple

import torch
import torch.distributed as torch_dist
from mmengine.config import Config, DictAction
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


def parse_tool_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse, and export ``LOCAL_RANK`` when the launcher did not."""
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def load_config(path: str,
                launcher: str = 'none',
                cfg_options: Optional[dict] = None,
                work_dir: Optional[str] = None) -> Tuple[Config, str]:
    """Load ``path`` as the scope's own tools do.

    ``--cfg-options`` are merged, ``work_dir`` is CLI > config >
    ``./work_dirs/<config name>``. Without CUDA, a distributed launch uses
    gloo and a CPU DDP (mmengine 0.10.7's own set-up assumes a GPU).

    Returns:
        tuple: The config and its scope, ``'mmdet'`` or ``'mmseg'``.
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
    if launcher != 'none' and not torch.cuda.is_available():
        if not torch_dist.is_initialized():
            torch_dist.init_process_group(backend='gloo')
        wrapper = cfg.get('model_wrapper_cfg') or {}
        cfg.model_wrapper_cfg = dict(
            dict(type='MMDistributedDataParallel', broadcast_buffers=False,
                 find_unused_parameters=cfg.get('find_unused_parameters',
                                                False)),
            **wrapper, device_ids=None)
    return cfg, scope


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
