"""What one run of the transfer benchmark does (:class:`TransferSettings`):
the shipped benchmark's or the smoke run's settings (:data:`PRESET_SETTINGS`)
with the ones given, checked (:func:`transfer_settings`), and as
``transfer.json`` records them (:func:`settings_record`)."""
import os.path as osp
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence

from ...utils.mobilenet_v2 import IMAGENET_SHA256
from .catalog import (BACKBONES, IMG_SIZE, TASKS, backbone_tasks,
                      config_path, default_methods, default_out_dir, is_real,
                      methods_error, task_error)
from .data import split_names
from .pretrain import PretrainSettings

PRETRAIN_SEED = 1  # the source images; the target data: TASKS' seed

#: The training pool's size unless given: this times the largest split.
POOL_FACTOR = 2

#: The shipped benchmark (with the track's source and ``splits``) and the
#: smoke run (``quick``); explicit settings override either. The lr grid is
#: log-spaced around the configs' lr (1e-2); the ResNet track's study chose
#: 1e-2 to 1e-1 for every method; a choice at an edge widens it
#: (:func:`~.study.run_all`).
PRESET_SETTINGS = dict(
    full=dict(
        seeds=5,
        num_val=500,
        num_select=500,
        lr_grid=(3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1),
        backbone_lr_mults=(1., 0.1)),
    quick=dict(
        seeds=1,
        iters=(4, ),
        train_sizes=(8, ),
        num_val=8,
        num_select=8,
        lr_grid=(1e-3, 1e-2),
        backbone_lr_mults=(1., ),
        pretrain_iters=4,
        pretrain_images=32))


@dataclass
class TransferSettings:
    """What one benchmark runs (see :func:`transfer_settings`).

    Args:
        backbone (str): The track, a key of :data:`~.catalog.BACKBONES`.
        task (str): The target task, a key of :data:`~.catalog.TASKS`.
        methods (list[str]): Methods of the track, in run order.
        seeds (int): Seeds of the test phase per method and split (1, 2,
            ...; the selection runs have seed 0, :data:`~.run.SELECT_SEED`);
            a seed draws the training images too.
        train_sizes (list[int]): Training split sizes.
        iters (dict[int, int]): Training iterations per split size.
        num_val (int): Test images (the target data's validation images;
            real data: every image of ``test_split``).
        num_select (int): Selection images (the first training images;
            real data: the first frames of each sequence,
            :func:`~.data.select_indices`).
        pool_size (int): Training images the splits are drawn from (those
            after the selection images; real data: the others).
        lr_grid (list[float]): The learning rates every method is tried at
            on the selection split (the optimizer's lr; ``lr_mult`` of a
            config's parameter groups stays relative to it). One value: no
            selection runs, the value is used.
        backbone_lr_mults (list[float]): The ``lr_mult`` of the trainable
            backbone parameters (pretrained weights, prompts, adapters)
            every method that has some (:func:`~.study.backbone_trainable`)
            is tried at, jointly with each lr; the heads stay at the lr.
            One value with one lr: no selection runs.
        select_only (bool): Only the selection phase (a design study on the
            selection split); no test runs. Default: False.
        source (dict): Every argument of the source backbone
            (:func:`source_args`): the count pretraining's, or the ImageNet
            weights' checksum and scope; the checkpoint cache key
            (:func:`~.source.source_key`).
        config_dir (str): The folder of the methods' configs
            (:func:`~.catalog.config_path`): ``configs/transfer`` of a
            checkout, which the tool names; a run records its config
            relative to that checkout.
        out_dir (str): Where the report, checkpoint, data and logs go.
        records (str): The folder the finished runs (and in its
            :data:`~.source.SOURCES_FOLDER` a copy of the source checkpoint,
            :func:`~.source.pretrain`) are recorded in and looked up in.
            Default: ``<out_dir>/records``.
        reuse_records (list[str]): More folders whose records and source
            checkpoints a run is looked up in (e.g. records committed under
            ``docs/`` from an earlier machine); never written. Default:
            none.
        data_root (str): The real target data's folder (a task with
            ``folders``); '' for data made here.
        test_split (str): The real data's split the test runs are
            evaluated on (a key of the task's ``folders`` but ``train``);
            '' for data made here.
    """
    backbone: str
    task: str
    methods: List[str]
    seeds: int
    train_sizes: List[int]
    iters: Dict[int, int]
    num_val: int
    num_select: int
    pool_size: int
    lr_grid: List[float]
    backbone_lr_mults: List[float]
    source: dict
    config_dir: str
    out_dir: str
    select_only: bool = False
    records: str = ''
    reuse_records: List[str] = field(default_factory=list)
    data_root: str = ''
    test_split: str = ''

    def __post_init__(self):
        self.records = self.records or osp.join(self.out_dir, 'records')

    def config(self, method: str) -> str:
        """The config of ``method`` on this track and task."""
        return config_path(self.config_dir, method, self.backbone, self.task)


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


def transfer_settings(config_dir: str,
                      backbone: str = 'resnet18',
                      task: Optional[str] = None,
                      methods: Optional[List[str]] = None,
                      seeds: Optional[int] = None,
                      iters: Optional[Sequence[int]] = None,
                      train_sizes: Optional[Sequence[int]] = None,
                      num_val: Optional[int] = None,
                      num_select: Optional[int] = None,
                      pool_size: Optional[int] = None,
                      lr_grid: Optional[Sequence[float]] = None,
                      backbone_lr_mults: Optional[Sequence[float]] = None,
                      select_only: bool = False,
                      quick: bool = False,
                      out_dir: Optional[str] = None,
                      records: Optional[str] = None,
                      reuse_records: Sequence[str] = (),
                      data_root: Optional[str] = None,
                      test_split: Optional[str] = None
                      ) -> TransferSettings:
    """The settings of a run: what is not given is the shipped benchmark's
    (``PRESET_SETTINGS['full']`` and the track's source and splits), or
    the smoke run's with ``quick``.

    Args:
        config_dir (str): See :class:`TransferSettings`.
        backbone (str): The track, a key of :data:`~.catalog.BACKBONES`.
        task (str, optional): The target task, a key of
            :data:`~.catalog.TASKS`. Default: the track's first
            (:func:`~.catalog.backbone_tasks`).
        iters (Sequence[int], optional): One value for every split, or one
            per split of ``train_sizes``. Default: the shipped iterations of
            each split.
        pool_size (int, optional): Default: :data:`POOL_FACTOR` times the
            largest of ``train_sizes`` and the track's shipped splits (the
            same pool for a run of fewer splits, whose records the full
            study then reuses); real data: every training image that is not
            a selection image.
        records (str, optional): See :class:`TransferSettings`.
        reuse_records (Sequence[str]): See :class:`TransferSettings`.
        data_root (str, optional): The folder of a real task's data
            (required for it, refused for data made here).
        test_split (str, optional): A real task's test split. Default: its
            first (CamVid: ``val``).

    Raises:
        ValueError: The task is unknown or has no configs for the track, a
            method is not one of the track's, ``iters`` does not fit
            ``train_sizes``, a split is larger than the pool, the lr grid or
            the multipliers have a value twice or one that is not positive,
            a ``reuse_records`` folder does not exist, or the real data's
            options are missing, refused or their folders incomplete (the
            message names the option).
    """
    task = task or backbone_tasks(backbone)[0]
    error = task_error(backbone, task)
    if error:
        raise ValueError(error)
    if methods is None:
        methods = default_methods(backbone, task)
    error = methods_error(methods, backbone, task)
    if error:
        raise ValueError(error)
    missing = [folder for folder in reuse_records if not osp.isdir(folder)]
    if missing:
        raise ValueError(f'--reuse-records: no such folder: '
                         f'{", ".join(missing)}')
    defaults = PRESET_SETTINGS['quick'] if quick else dict(
        PRESET_SETTINGS['full'], **TASKS[task]['splits'][backbone])
    train_sizes = list(train_sizes or defaults['train_sizes'])
    num_select = num_select or defaults['num_select']
    if is_real(task):
        num_val, pool_size, test_split = _real_splits(
            task, data_root, test_split, num_val, num_select, pool_size)
    else:
        for option, value in (('--data-root', data_root),
                              ('--test-split', test_split)):
            if value:
                raise ValueError(
                    f'{option}: --task {task} makes its own data; the '
                    'option applies to the tasks of real data ('
                    f'{", ".join(t for t in TASKS if is_real(t))})')
        num_val = num_val or defaults['num_val']
        # the shipped splits' pool also for fewer splits, so that a reduced
        # run draws the same images and its records serve the full study
        pool_size = pool_size or POOL_FACTOR * max(*train_sizes,
                                                   *defaults['train_sizes'])
    if max(train_sizes) > pool_size:
        raise ValueError(
            f'--train-sizes: {max(train_sizes)} images exceed the training '
            f'pool (--pool-size {pool_size})')
    lr_grid = _grid('--lr-grid', lr_grid or defaults['lr_grid'])
    backbone_lr_mults = _grid(
        '--backbone-lr-mults', backbone_lr_mults
        or defaults['backbone_lr_mults'])
    return TransferSettings(
        backbone=backbone,
        task=task,
        methods=list(methods),
        seeds=seeds or defaults['seeds'],
        train_sizes=train_sizes,
        iters=split_iters(
            train_sizes, iters or shipped_iters(train_sizes, defaults)),
        num_val=num_val,
        num_select=num_select,
        pool_size=pool_size,
        lr_grid=lr_grid,
        backbone_lr_mults=backbone_lr_mults,
        select_only=select_only,
        source=source_args(backbone, task, quick),
        config_dir=config_dir,
        out_dir=out_dir or default_out_dir(task, backbone),
        records=records or '',
        reuse_records=list(reuse_records),
        data_root=data_root or '',
        test_split=test_split or '')


def _real_splits(task: str, data_root: Optional[str],
                 test_split: Optional[str], num_val: Optional[int],
                 num_select: int, pool_size: Optional[int]) -> tuple:
    """``(num_val, pool_size, test_split)`` of a real task's data: every
    image of the test split, and the training images after the selection
    ones (fewer with ``pool_size``)."""
    if not data_root:
        raise ValueError(f'--data-root: --task {task} trains on real data: '
                         'give the folder that holds ' + ', '.join(
                             '/'.join(folders) for folders in
                             TASKS[task]['folders'].values()))
    if num_val:
        raise ValueError(f'--num-val: --task {task} tests on every image '
                         'of its --test-split')
    tests = [split for split in TASKS[task]['folders'] if split != 'train']
    test_split = test_split or tests[0]
    if test_split not in tests:
        raise ValueError(f'--test-split: unknown split {test_split!r} of '
                         f'--task {task}; allowed: {", ".join(tests)}')
    available = len(split_names(data_root, task, 'train')) - num_select
    if available <= 0:
        raise ValueError(f'--num-select: {num_select} selection images leave '
                         f'no training images in {data_root}')
    if pool_size and pool_size > available:
        raise ValueError(f'--pool-size: {pool_size} images exceed the '
                         f'{available} training images after the '
                         f'{num_select} selection images in {data_root}')
    num_val = len(split_names(data_root, task, test_split))
    return num_val, pool_size or available, test_split


def _grid(option: str, values: Sequence[float]) -> List[float]:
    """``values`` as floats; a value twice or one that is not positive is
    an error naming ``option``."""
    values = [float(v) for v in values]
    if len(set(values)) != len(values) or min(values) <= 0:
        raise ValueError(f'{option}: expected distinct positive values, '
                         f'got {",".join(f"{v:g}" for v in values)}')
    return values


def source_args(backbone: str, task: str, quick: bool = False) -> dict:
    """Every argument of ``backbone``'s source for ``task``: the ImageNet
    weights' checksum and the scope they are converted for (the task's
    package), or the count pretraining's (:func:`pretrain_args`: the
    shipped benchmark's iterations and images, the smoke run's with
    ``quick``)."""
    spec = BACKBONES[backbone]
    if spec['source'] == 'imagenet':
        return dict(weights='imagenet', sha256=IMAGENET_SHA256,
                    scope=TASKS[task]['package'])
    sizes = PRESET_SETTINGS['quick'] if quick else spec
    return pretrain_args(backbone, sizes['pretrain_iters'],
                         sizes['pretrain_images'])


def pretrain_args(backbone: str, iters: int, num_images: int) -> dict:
    """Every argument of ``backbone``'s source pretraining: the
    :class:`~.pretrain.PretrainSettings` fields but
    ``out`` (their defaults where the track sets none)."""
    args = asdict(
        PretrainSettings(
            task='count',
            **BACKBONES[backbone]['pretrain'],
            img_size=IMG_SIZE,
            batch_size=32,
            seed=PRETRAIN_SEED,
            iters=iters,
            num_images=num_images))
    args.pop('out')
    return args


def settings_record(settings: TransferSettings) -> dict:
    """The settings as ``transfer.json`` records them (no paths)."""
    record = asdict(settings)
    for path in ('config_dir', 'out_dir', 'records', 'reuse_records',
                 'data_root'):
        record.pop(path)
    if not is_real(settings.task):
        record.update(img_size=IMG_SIZE,
                      target_seed=TASKS[settings.task]['data_seed'])
    return record
