"""Run a config with ``tools/dist_train.sh`` (torchrun, ``--launcher
pytorch``) from a test, make a config fit for DDP on CPU processes, and read
what it trained."""
import socket
import sys
from pathlib import Path
from typing import Dict, Tuple, Union

import torch
from mmengine.config import Config

from .commands import run_tool


def free_port() -> int:
    """A TCP port nothing listens on now (for ``MASTER_PORT``)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def ddp_config(cfg: Config,
               checkpoint_iter: int,
               backend: str = 'gloo') -> Config:
    """Make ``cfg`` (in place) train under DDP over ``backend``.

    DDP gets ``find_unused_parameters=False`` (every trained parameter must
    get a gradient) and a ``CheckpointHook`` saves
    ``iter_{checkpoint_iter}.pth``. With ``'gloo'`` (CPU processes) mmseg
    heads get ``BN`` instead of ``SyncBN`` (SyncBN needs GPU modules under
    DDP: the README's override for a CPU); with ``'nccl'`` (GPU processes)
    the config keeps its SyncBN and ``env_cfg.dist_cfg`` names the backend.

    Returns:
        Config: ``cfg``.
    """
    if backend not in ('gloo', 'nccl'):
        raise ValueError(f"backend must be 'gloo' or 'nccl', got {backend!r}")
    cfg.find_unused_parameters = False
    if backend == 'nccl':
        cfg.env_cfg.dist_cfg = dict(backend='nccl')
    elif cfg.default_scope == 'mmseg':
        for head in ('decode_head', 'auxiliary_head'):
            if cfg.model.get(head):
                cfg.model[head].norm_cfg = dict(type='BN', requires_grad=True)
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', by_epoch=False, interval=checkpoint_iter)
    return cfg


def dist_train(cfg: Config,
               gpus: int,
               folder: Union[str, Path],
               timeout: float = 600) -> Tuple[int, str]:
    """Dump ``cfg`` into ``folder`` and train it with
    ``tools/dist_train.sh CONFIG gpus`` (``gpus`` processes; the backend is
    ``cfg.env_cfg.dist_cfg``'s), in ``folder``, on a free port.

    Returns:
        tuple: (return code, output with stderr merged).
    """
    cfg_file = Path(folder) / 'dist_train_config.py'
    cfg.dump(str(cfg_file))
    proc = run_tool('tools/dist_train.sh', cfg_file, gpus, cwd=str(folder),
                    env=dict(PORT=str(free_port()), PYTHON=sys.executable),
                    timeout=timeout)
    return proc.returncode, proc.stdout


def checkpoint_state(path: Union[str, Path]) -> Dict[str, torch.Tensor]:
    """The ``state_dict`` of an mmengine checkpoint, loaded on the CPU."""
    return torch.load(path, map_location='cpu',
                      weights_only=False)['state_dict']


def prompt_up_weights(state: Dict[str, torch.Tensor]) -> list:
    """The ``up.weight`` of every prompt block in a detector's / segmentor's
    state dict (zero-initialised: non-zero once a step has trained them)."""
    return [v for k, v in state.items()
            if k.startswith('backbone.prompts.') and k.endswith('up.weight')]
