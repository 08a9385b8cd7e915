"""What one run of the transfer benchmark does (:class:`TransferSettings`):
the shipped benchmark's or the smoke run's settings (:data:`PRESET_SETTINGS`)
with the ones given, checked (:func:`transfer_settings`), and as
``transfer.json`` records them (:func:`settings_record`)."""
import os.path as osp
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence

from .catalog import (BACKBONES, IMG_SIZE, TASKS, config_path,
                      default_methods, default_out_dir, methods_error)
from .pretrain import PretrainSettings

PRETRAIN_SEED = 1  # the source images; the target data: TASKS' seed

#: The training pool's size unless given: this times the largest split.
POOL_FACTOR = 2

#: The shipped benchmark (with the track's source and ``splits``) and the
#: smoke run (``quick``); explicit settings override either. The lr grid is
#: log-spaced around the configs' lr (1e-2); the ResNet track's study chose
#: 1e-2 to 1e-1 for every method.
PRESET_SETTINGS = dict(
    full=dict(
        seeds=3,
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
        seeds (int): Seeds of the test phase per method and split (0, 1,
            ...); a seed draws the training images too.
        train_sizes (list[int]): Training split sizes.
        iters (dict[int, int]): Training iterations per split size.
        num_val (int): Test images (the target data's validation images).
        num_select (int): Selection images (the first training images).
        pool_size (int): Training images the splits are drawn from (those
            after the selection images).
        lr_grid (list[float]): The learning rates every method is tried at
            on the selection split (the optimizer's lr; ``lr_mult`` of a
            config's parameter groups stays relative to it). One value: no
            selection runs, the value is used.
        backbone_lr_mults (list[float]): The ``lr_mult`` of the pretrained
            backbone weights every method that trains some
            (:func:`~.study.pretrained_trainable`) is tried at, jointly
            with each lr; the prompts and heads stay at the lr. One value
            with one lr: no selection runs.
        select_only (bool): Only the selection phase (a design study on the
            selection split); no test runs. Default: False.
        pretrain (dict): Every argument of the source pretraining
            (:class:`~.pretrain.PretrainSettings` but
            ``out``); the checkpoint cache key (:func:`~.source.source_key`).
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
    pretrain: dict
    config_dir: str
    out_dir: str
    select_only: bool = False
    records: str = ''
    reuse_records: List[str] = field(default_factory=list)

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
                      task: str = 'seg',
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
                      reuse_records: Sequence[str] = ()
                      ) -> TransferSettings:
    """The settings of a run: what is not given is the shipped benchmark's
    (``PRESET_SETTINGS['full']`` and the track's source and splits), or
    the smoke run's with ``quick``.

    Args:
        config_dir (str): See :class:`TransferSettings`.
        backbone (str): The track, a key of :data:`~.catalog.BACKBONES`.
        task (str): The target task, a key of :data:`~.catalog.TASKS`.
        iters (Sequence[int], optional): One value for every split, or one
            per split of ``train_sizes``. Default: the shipped iterations of
            each split.
        pool_size (int, optional): Default: :data:`POOL_FACTOR` times the
            largest of ``train_sizes`` and the track's shipped splits (the
            same pool for a run of fewer splits, whose records the full
            study then reuses).
        records (str, optional): See :class:`TransferSettings`.
        reuse_records (Sequence[str]): See :class:`TransferSettings`.

    Raises:
        ValueError: The task is unknown, a method is not one of the
            track's, ``iters`` does not fit ``train_sizes``, a split is
            larger than the pool, the lr grid or the multipliers have a
            value twice or one that is not positive, or a ``reuse_records``
            folder does not exist (the message names the option).
    """
    if task not in TASKS:
        raise ValueError(f'--task: unknown task {task!r}; allowed: '
                         f'{", ".join(TASKS)}')
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
    source = defaults if quick else BACKBONES[backbone]
    return TransferSettings(
        backbone=backbone,
        task=task,
        methods=list(methods),
        seeds=seeds or defaults['seeds'],
        train_sizes=train_sizes,
        iters=split_iters(
            train_sizes, iters or shipped_iters(train_sizes, defaults)),
        num_val=num_val or defaults['num_val'],
        num_select=num_select or defaults['num_select'],
        pool_size=pool_size,
        lr_grid=lr_grid,
        backbone_lr_mults=backbone_lr_mults,
        select_only=select_only,
        pretrain=pretrain_args(backbone, source['pretrain_iters'],
                               source['pretrain_images']),
        config_dir=config_dir,
        out_dir=out_dir or default_out_dir(task, backbone),
        records=records or '',
        reuse_records=list(reuse_records))


def _grid(option: str, values: Sequence[float]) -> List[float]:
    """``values`` as floats; a value twice or one that is not positive is
    an error naming ``option``."""
    values = [float(v) for v in values]
    if len(set(values)) != len(values) or min(values) <= 0:
        raise ValueError(f'{option}: expected distinct positive values, '
                         f'got {",".join(f"{v:g}" for v in values)}')
    return values


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
    """The settings as ``transfer.json`` records them."""
    record = asdict(settings)
    for path in ('config_dir', 'out_dir', 'records', 'reuse_records'):
        record.pop(path)
    record.update(img_size=IMG_SIZE,
                  target_seed=TASKS[settings.task]['data_seed'])
    return record
