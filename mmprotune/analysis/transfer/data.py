"""The transfer benchmark's target data (:func:`make_target_data`) and the
training images of each run (:func:`train_indices`)."""
import os.path as osp
from typing import List

import numpy as np

from ...utils import atomic_write
from .catalog import IMG_SIZE, TASKS
from .settings import TransferSettings


def make_target_data(settings: TransferSettings) -> str:
    """Write (once) the task's target set: ``num_select + pool_size``
    training images, the selection split first and the pool after it, and
    ``num_val`` validation images, the test split. A ``done`` file marks a
    set written to the end (a stopped run's half set is written again).

    The data makers draw each image from one generator per split in order,
    so the selection images do not change with ``pool_size``.
    """
    stem, make = TASKS[settings.task]['data']
    seed = TASKS[settings.task]['data_seed']
    data_root = osp.join(
        settings.out_dir, f'{stem}_{settings.num_select}+'
        f'{settings.pool_size}-{settings.num_val}_seed{seed}')
    done = osp.join(data_root, 'done')
    if not osp.isfile(done):
        make(data_root,
             num_train=settings.num_select + settings.pool_size,
             num_val=settings.num_val,
             img_size=IMG_SIZE,
             seed=seed)
        atomic_write('', done, encoding='utf-8')
    return data_root


def train_indices(settings: TransferSettings, train_size: int,
                  seed: int) -> List[int]:
    """The training images of a run with ``seed``: ``train_size`` of the
    pool's, drawn without replacement by ``numpy.random.default_rng(seed)``,
    in ascending order, as indices into the target data's training list
    (the pool starts after the ``num_select`` selection images).

    Example:
        >>> from mmprotune.analysis.transfer.settings import (
        ...     transfer_settings)
        >>> from mmprotune.testing import TRANSFER_CONFIG_DIR
        >>> s = transfer_settings(TRANSFER_CONFIG_DIR, quick=True)
        >>> s.num_select, s.pool_size  # the pool follows the selection
        (8, 16)
        >>> idx = train_indices(s, 8, seed=0)
        >>> len(idx), min(idx) >= 8, max(idx) < 24
        (8, True, True)
    """
    rng = np.random.default_rng(seed)
    drawn = rng.choice(settings.pool_size, size=train_size, replace=False)
    return sorted(int(i) + settings.num_select for i in drawn)
