"""Loading local checkpoints under torch >= 2.6 (``weights_only=True``).

mmengine 0.10.7 loads local files with a bare ``torch.load``. Since torch 2.6
that refuses the objects mmengine itself writes into Runner checkpoints (the
message hub's ``HistoryBuffer``, numpy arrays and scalars), so ``test.py`` and
``--resume`` fail on the checkpoints training just wrote. Importing mmprotune
replaces mmengine's local loader with :func:`load_local_checkpoint`, which
keeps ``weights_only=True`` and allows exactly those data types, nothing that
can run code. Pretrained weights (plain tensors) load as before.
"""
import os.path as osp
import pickle
from typing import Any, Callable, List, Tuple, Union

import numpy as np
import numpy.core.multiarray as multiarray
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

_SafeGlobal = Union[Callable, Tuple[Callable, str]]


def _history_buffer_getattr(owner: Any, name: str) -> Any:
    """Stands in for ``builtins.getattr``, which pickle uses to refer to
    ``HistoryBuffer``'s statistics methods; any other use is refused."""
    allowed = {'min', 'max', 'mean', 'current', *HistoryBuffer._statistics_methods}
    if owner is HistoryBuffer and name in allowed:
        return getattr(owner, name)
    raise pickle.UnpicklingError(
        f'refusing getattr({owner!r}, {name!r}) while loading a checkpoint')


def _mmengine_safe_globals() -> List[_SafeGlobal]:
    """The data types mmengine's Runner writes into a checkpoint."""
    dtype_classes = [
        type(np.dtype(code)) for code in np.typecodes['All']
        if code not in 'OVUSMm'
    ]
    return [
        HistoryBuffer,
        np.ndarray,
        np.dtype,
        *dtype_classes,
        *[(getattr(multiarray, func), f'{module}.multiarray.{func}')
          for module in ('numpy.core', 'numpy._core')
          for func in ('_reconstruct', 'scalar')],
        (_history_buffer_getattr, 'builtins.getattr'),
    ]


def load_local_checkpoint(filename: str, map_location=None) -> Any:
    """Load a local checkpoint with ``weights_only=True``, allowing the data
    types of mmengine Runner checkpoints.

    Raises:
        FileNotFoundError: ``filename`` is not a file.
        RuntimeError: the file holds other objects; the message names the
            file and the object that cannot be loaded safely.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    with torch.serialization.safe_globals(_mmengine_safe_globals()):
        try:
            return torch.load(
                filename, map_location=map_location, weights_only=True)
        except pickle.UnpicklingError as err:
            lines = [line.strip() for line in str(err).splitlines()]
            reason = next((line for line in lines
                           if 'GLOBAL' in line or line.startswith(
                               'refusing')), lines[0])
            raise RuntimeError(
                f'{filename} holds objects that torch.load(weights_only=True) '
                f'cannot load safely ({reason}). Only '
                'tensors, plain Python containers and the data types of '
                'mmengine checkpoints are allowed. If you trust the file, '
                're-save just its weights: torch.save({"state_dict": '
                'torch.load(F, weights_only=False)["state_dict"]}, F2)') \
                from err


def register_checkpoint_loader() -> None:
    """Make :func:`load_local_checkpoint` mmengine's loader for local
    paths (the scheme without a prefix). Nothing to do before torch 2.5,
    whose ``torch.load`` has no allow-list (nor the ``weights_only=True``
    default)."""
    if not hasattr(torch.serialization, 'safe_globals'):
        return
    CheckpointLoader.register_scheme(prefixes='', force=True)(
        load_local_checkpoint)
