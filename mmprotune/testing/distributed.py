"""Run a config with ``tools/dist_train.sh`` (torchrun, ``--launcher
pytorch``) from a test, and read what it trained."""
import socket
import sys
from pathlib import Path
from typing import Dict, Tuple, Union

import torch
from mmengine.config import Config

from .tools import run_tool


def free_port() -> int:
    """A TCP port nothing listens on now (for ``MASTER_PORT``)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


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
