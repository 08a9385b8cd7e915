"""The transfer benchmark's target data (:func:`make_target_data`): made here
for the synthetic tasks, a ``--data-root`` folder for the real ones
(:func:`split_names`); its selection split (:func:`select_indices`), the
pool the training images are drawn from (:func:`pool_indices`), the training
images of each run (:func:`train_indices`) and what identifies them in a
record's key (:func:`data_key`)."""
import os
import os.path as osp
from typing import TYPE_CHECKING, Dict, List

import numpy as np

from ...datasets import read_split_csv
from ...utils import atomic_write
from .catalog import IMG_SIZE, TASKS, is_real
from .records import key_hash

if TYPE_CHECKING:  # settings.py imports this module
    from .settings import TransferSettings

#: File name endings of the images of a real task's folders.
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg')
#: File name endings of a real task's list files (a split's boxes).
LIST_SUFFIXES = ('.csv', )


def split_names(data_root: str, task: str, split: str) -> List[str]:
    """The sorted image file names of a real task's ``split`` (a key of
    its ``folders``), as its dataset lists them (sorted by path): the
    images of its image folder, or those its list file names.

    Raises:
        ValueError: The split's image folder or labels are missing or name
            no images (names the folder or file and ``--data-root``).
    """
    images, labels = TASKS[task]['folders'][split]
    is_list = labels.endswith(LIST_SUFFIXES)
    described = f'{images}/ and {labels}{"" if is_list else "/"}'
    for path, kind in ((images, 'folder'),
                       (labels, 'file' if is_list else 'folder')):
        if not (osp.isfile if kind == 'file' else osp.isdir)(
                osp.join(data_root, path)):
            raise ValueError(
                f'--data-root: {data_root} has no {kind} '
                f'{path}{"/" if kind == "folder" else ""} (the {split} split '
                f'of --task {task}: {described})')
    if is_list:
        names = read_split_csv(osp.join(data_root, labels))
    else:
        names = sorted(
            name for name in os.listdir(osp.join(data_root, images))
            if name.lower().endswith(IMAGE_SUFFIXES))
    if not names:
        raise ValueError(f'--data-root: {osp.join(data_root, images)} holds '
                         f'no images ({", ".join(IMAGE_SUFFIXES)})')
    return names


def first_frames(names: List[str], count: int) -> List[int]:
    """The indices (into the sorted ``names``) of the first frames of each
    sequence, ``count`` in all: a sequence is the part of a name before its
    first ``_`` (CamVid: ``0016E5_08640.png`` is frame 08640 of sequence
    0016E5), and each gets its share of ``count`` by its size (largest
    remainders first). Consecutive video frames look alike, so a selection
    split of whole runs of frames shares no near-duplicates with the pool
    but at one boundary per sequence.

    Example:
        >>> names = ['a_1', 'a_2', 'a_3', 'a_4', 'b_1', 'b_2']
        >>> first_frames(names, 3)
        [0, 1, 4]
    """
    sequences: Dict[str, List[int]] = {}
    for index, name in enumerate(names):
        sequences.setdefault(name.split('_')[0], []).append(index)
    shares = {seq: count * len(ids) / len(names)
              for seq, ids in sequences.items()}
    taken = {seq: int(share) for seq, share in shares.items()}
    by_remainder = sorted(shares, key=lambda seq: taken[seq] - shares[seq])
    for seq in by_remainder[:count - sum(taken.values())]:
        taken[seq] += 1
    return sorted(i for seq, ids in sequences.items()
                  for i in ids[:taken[seq]])


def select_indices(settings: 'TransferSettings') -> List[int]:
    """The selection split, as indices into the training list: the first
    ``num_select`` images (data made here) or the first frames of each
    sequence (:func:`first_frames`, real data)."""
    if not is_real(settings.task):
        return list(range(settings.num_select))
    names = split_names(settings.data_root, settings.task, 'train')
    return first_frames(names, settings.num_select)


def pool_indices(settings: 'TransferSettings') -> List[int]:
    """The training pool, as indices into the training list: the
    ``pool_size`` images after the selection ones (data made here), or the
    first ``pool_size`` of those that are not selection images (real
    data)."""
    if not is_real(settings.task):
        return list(range(settings.num_select,
                          settings.num_select + settings.pool_size))
    names = split_names(settings.data_root, settings.task, 'train')
    selected = set(select_indices(settings))
    return [i for i in range(len(names))
            if i not in selected][:settings.pool_size]


def make_target_data(settings: 'TransferSettings') -> Dict[str, dict]:
    """The target set, as the dataset settings of its training split and
    of its test split (``{'train': {...}, 'test': {...}}``, what a config's
    ``dataset`` gets: :func:`~.run.run_config`).

    Real data: ``settings.data_root`` (checked by :func:`split_names`)
    with each split's image and label folders, or (a task with
    ``convert``) its images and the COCO JSON of each split, converted from
    the Pascal VOC XML into ``<out_dir>/<stem>`` every time (a few seconds;
    an edited annotation is never stale). Data made here: written once,
    ``num_select + pool_size`` training images, the selection split first
    and the pool after it, and ``num_val`` validation images, the test
    split; a ``done`` file marks a set written to the end (a stopped run's
    half set is written again).

    The data makers draw each image from one generator per split in order,
    so the selection images do not change with ``pool_size``.
    """
    spec = TASKS[settings.task]
    if is_real(settings.task):
        splits = ('train', settings.test_split)
        for split in splits:
            split_names(settings.data_root, settings.task, split)
        if 'convert' in spec:
            stem, convert = spec['convert']
            ann_files = convert(settings.data_root,
                                osp.join(settings.out_dir, stem))
            return {
                phase: dict(data_root=settings.data_root,
                            ann_file=osp.abspath(ann_files[split]))
                for phase, split in zip(('train', 'test'), splits)
            }
        return {
            phase: dict(data_root=settings.data_root,
                        data_prefix=dict(
                            img_path=spec['folders'][split][0],
                            seg_map_path=spec['folders'][split][1]))
            for phase, split in zip(('train', 'test'), splits)
        }
    stem, make = spec['data']
    seed = spec['data_seed']
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
    return dict(train=dict(data_root=data_root),
                test=dict(data_root=data_root))


def train_indices(settings: 'TransferSettings', train_size: int,
                  seed: int) -> List[int]:
    """The training images of a run with ``seed``: ``train_size`` of the
    pool's (:func:`pool_indices`), drawn without replacement by
    ``numpy.random.default_rng(seed)``, in ascending order, as indices into
    the target data's training list.

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
    pool = pool_indices(settings)
    rng = np.random.default_rng(seed)
    drawn = rng.choice(len(pool), size=train_size, replace=False)
    return sorted(pool[int(i)] for i in drawn)


def data_key(settings: 'TransferSettings', phase: str) -> dict:
    """What identifies the target data of a run in ``phase`` in its
    record's key, no path: the selection and pool images (and for a test
    run the test images), by count, size and seed (data made here) or by
    the hash of their file names (real data). A selection run's key does
    not name the test split, so testing on another split reuses it."""
    if not is_real(settings.task):
        key = dict(num_select=settings.num_select,
                   pool_size=settings.pool_size, img_size=IMG_SIZE,
                   seed=TASKS[settings.task]['data_seed'])
        if phase == 'test':
            key['num_val'] = settings.num_val
        return key
    names = split_names(settings.data_root, settings.task, 'train')
    key = dict(
        select=key_hash([names[i] for i in select_indices(settings)]),
        pool=key_hash([names[i] for i in pool_indices(settings)]))
    if phase == 'test':
        key['test'] = dict(
            split=settings.test_split,
            images=key_hash(split_names(settings.data_root, settings.task,
                                        settings.test_split)))
    return key
