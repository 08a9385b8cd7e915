"""The controlled transfer benchmark: every tuning method, the same data,
schedule and evaluation, several seeds, on data and weights made here; the
logic of ``tools/benchmark_transfer.py``.

1. Source: a narrow ResNet-18 (width 16; ``--backbone resnet18``, the
   default) or a small Swin Transformer (width 32, patch 2, three stages;
   ``--backbone swin``) is pretrained to *count* the shapes in 64 px images
   (:func:`mmprotune.analysis.pretrain.pretrain_backbone`, task ``count``)
   and saved as a plain backbone checkpoint (:func:`pretrain`).
2. Target (``--task``, :data:`TASKS`), on other images
   (:func:`make_target_data`): semantic segmentation of circles, squares
   and triangles (``seg``, the default: :func:`mmprotune.datasets.
   make_ade20k_shapes`, an mmseg FCN head on the backbone's stride-8 last
   stage, mIoU) or the class of the image's one shape (``cls``:
   :func:`mmprotune.datasets.make_imagenet_shapes`, an mmpretrain
   ``ImageClassifier`` with a linear head on the pooled last stage, top-1
   accuracy). Each method has a config per task and backbone
   (:func:`config_path`) that loads the source through
   ``init_cfg=dict(type='Pretrained', checkpoint=...)``.
3. Three disjoint image sets per target (:func:`make_target_data`): a
   *selection* split (the first ``num_select`` training images, only for
   choosing), a training *pool* (the training images after it; a seed
   draws each run's split from it, :func:`train_indices`) and the held-out
   *test* split (the validation images, only for the tables).
4. Each method, on each split size, trains from the same checkpoint
   through a fresh mmengine ``Runner`` at every learning rate of
   ``lr_grid`` (and, if it trains pretrained weights, every
   ``backbone_lr_mults`` multiplier of them: :func:`settings_grid`) with
   seed 0, evaluated on the selection split by the training loop's
   validations (a curve, the last point its score); the best setting
   (:func:`choose_setting`) then trains with each seed and is evaluated
   on the test split (:func:`run_all`; not with ``select_only``). Every
   run also measures its peak training memory
   (:func:`peak_train_bytes`). Each finished run is recorded
   (:mod:`.transfer_records`, keyed by :func:`run_key`) and skipped by a
   rerun; the report is :mod:`.transfer_report`. See
   docs/transfer_benchmark.md.
"""
import contextlib
import copy
import hashlib
import json
import os.path as osp
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
from mmengine.config import Config

from ..datasets import make_ade20k_shapes, make_imagenet_shapes
from ..testing import REPO_ROOT
from ..utils import atomic_write, build_model
from .pretrain import PretrainSettings, pretrain_backbone
from .transfer_records import (RECORD_PROTOCOL, canonical, find_record,
                               key_hash, machine, record_name, run_name,
                               write_record)

CONFIG_DIR = osp.join(REPO_ROOT, 'configs', 'transfer')
#: Per track (``--backbone``): the source: the arguments of
#: :class:`~mmprotune.analysis.pretrain.PretrainSettings` besides the shared
#: ones (``pretrain``), iterations and images of the shipped benchmark,
#: checkpoint name (``checkpoint_stem``); the
#: default output folder of the ``seg`` task (:func:`default_out_dir`); the
#: name in the plot.
BACKBONES = OrderedDict(
    resnet18=dict(
        pretrain=dict(depth=18, base_channels=16),
        pretrain_iters=1000,
        pretrain_images=4000,
        checkpoint_stem='resnet18-w16_count',
        out_dir='work_dirs/transfer',
        title='ResNet-18'),
    swin=dict(
        pretrain=dict(arch='swin', embed_dims=32, lr=5e-4),
        # its validation count accuracy plateaus at about 0.64 from 4800
        # iterations on (600 on 4000 images: 0.47; docs/transfer_benchmark.md)
        pretrain_iters=6000,
        pretrain_images=8000,
        checkpoint_stem='swin-e32-p2-w4_count',
        out_dir='work_dirs/transfer-swin',
        title='small Swin'),
)
#: Per target task (``--task``): its configs
#: (``configs/transfer/<config>`` with the method and the backbone's name
#: in ``backbones``), the metrics a run keeps (its name -> the key of
#: ``Runner.test``'s output), the one the tables report (``metric``,
#: printed as ``metric_label``), the package that evaluates it (its version
#: is in a record's key), the target data (``data``: its folder stem and
#: the function that writes it; ``data_seed``: its seed), the shipped
#: benchmark's training splits and their iterations per track (``splits``)
#: and the words of the plot title.
TASKS = OrderedDict(
    seg=dict(
        config='fcn_{method}-{backbone}_1xb16-500i_shapes-ade20k-64x64.py',
        backbones=dict(resnet18='r18-w16-d8', swin='swin-e32-p2-w4'),
        metrics=dict(mIoU='mIoU', aAcc='aAcc', mAcc='mAcc'),
        metric='mIoU',
        metric_label='mIoU',
        package='mmseg',
        data=('shapes_ade20k', make_ade20k_shapes),
        data_seed=0,
        splits=dict(
            resnet18=dict(train_sizes=(50, 500), iters=(500, 1000)),
            swin=dict(train_sizes=(50, ), iters=(500, ))),
        title='shape segmentation'),
    cls=dict(
        config='linear_{method}-{backbone}_1xb16-500i_shapes-imagenet-'
        '64x64.py',
        backbones=dict(resnet18='r18-w16', swin='swin-e32-p2-w4'),
        metrics=dict(top1='accuracy/top1'),
        metric='top1',
        metric_label='top-1 accuracy',
        package='mmpretrain',
        # seed 2: the target and splits were chosen on seed 0's images
        # (docs/transfer_benchmark.md), which the tables therefore avoid
        data=('shapes_imagenet', make_imagenet_shapes),
        data_seed=2,
        # the shape classes take some hundreds of images to learn
        splits=dict(
            resnet18=dict(train_sizes=(500, 4000), iters=(1000, 1000)),
            swin=dict(train_sizes=(4000, ), iters=(1000, ))),
        title='class of the shape'),
)
ALL = tuple(BACKBONES)
#: The design study's variants of the Pro-tuning block (method
#: ``protune-<variant>``, config ``fcn_protune-<variant>-...``).
DESIGN_VARIANTS = ('block', 'ms', 'output', 'scale', 'wide')
#: Method (``configs/transfer/fcn_<method>-...``) -> the tracks it has a
#: config for, in table order; for every task unless :data:`METHOD_TASKS`
#: names fewer.
METHODS = OrderedDict([
    ('full', ALL),
    ('head-only', ALL),
    ('protune', ALL),
    ('bitfit', ALL),
    ('lora', ALL),
    ('conv-adapter', ('resnet18', )),
    ('adaptformer', ('swin', )),
    ('vpt', ('swin', )),
    ('mona', ALL),
    ('scratch', ALL),
    # design-study variants of Pro-tuning, segmentation only, opt in (see
    # docs/design.md), compared on the selection split (``--select-only``):
    # prompts after every block (prompt_cfg ``placement='block'``),
    # multi-scale depth-wise kernels (``kernel_size=(3, 5, 7)``), computed
    # from the stage's output (``prompt_input='output'``, the default until
    # the study), a learnt per-channel scale (``layer_scale=True``), twice
    # the hidden width (128)
    *[(f'protune-{variant}', ALL) for variant in DESIGN_VARIANTS],
])
#: Methods with configs for some tasks only: the tasks.
METHOD_TASKS = {f'protune-{variant}': ('seg', ) for variant in DESIGN_VARIANTS}
#: Not run unless named.
OPT_IN_METHODS = ('scratch', *METHOD_TASKS)
IMG_SIZE = 64
#: The subfolder of a records folder that holds the copies of the source
#: checkpoints with their sidecars (:func:`pretrain`), apart from the
#: records.
SOURCES_FOLDER = 'sources'
PRETRAIN_SEED = 1  # the source images; the target data: TASKS' seed

#: Selection and test phases of a run (:func:`run_key`): what it is
#: evaluated on.
PHASES = ('select', 'test')

#: Points of a selection run's curve: the training loop evaluates on the
#: selection split every ``ceil(iters / CURVE_POINTS)`` iterations and at
#: the last one (the run's score).
CURVE_POINTS = 5

#: The training pool's size unless given: this times the largest split.
POOL_FACTOR = 2

#: The shipped benchmark (with the track's source and ``splits``) and the
#: smoke run (``quick``); explicit settings override either. The lr grid is
#: log-spaced around the configs' lr (1e-2); the ResNet track's study chose
#: 1e-2 to 1e-1 for every method.
SETTINGS = dict(
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
        backbone (str): The track, a key of :data:`BACKBONES`.
        task (str): The target task, a key of :data:`TASKS`.
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
            (:func:`pretrained_trainable`) is tried at, jointly with each
            lr; the prompts and heads stay at the lr. One value with one lr:
            no selection runs.
        select_only (bool): Only the selection phase (a design study on the
            selection split); no test runs. Default: False.
        pretrain (dict): Every argument of the source pretraining
            (:class:`~mmprotune.analysis.pretrain.PretrainSettings` but
            ``out``); the checkpoint cache key (:func:`source_key`).
        out_dir (str): Where the report, checkpoint, data and logs go.
        records (str): The folder the finished runs (and in its
            :data:`SOURCES_FOLDER` a copy of the source checkpoint,
            :func:`pretrain`) are recorded in and looked up in. Default:
            ``<out_dir>/records``.
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
    out_dir: str
    select_only: bool = False
    records: str = ''
    reuse_records: List[str] = field(default_factory=list)

    def __post_init__(self):
        self.records = self.records or osp.join(self.out_dir, 'records')


def backbone_methods(backbone: str, task: str = 'seg') -> List[str]:
    """The methods that have a config for ``backbone`` and ``task``."""
    return [
        m for m, tracks in METHODS.items()
        if backbone in tracks and task in METHOD_TASKS.get(m, TASKS)
    ]


def default_methods(backbone: str, task: str = 'seg') -> List[str]:
    """The methods run unless others are named."""
    return [
        m for m in backbone_methods(backbone, task)
        if m not in OPT_IN_METHODS
    ]


def default_out_dir(task: str, backbone: str) -> str:
    """``work_dirs/transfer[-swin]`` for ``seg``, with ``-<task>`` after it
    for another task (e.g. ``work_dirs/transfer-cls``)."""
    out_dir = BACKBONES[backbone]['out_dir']
    return out_dir if task == 'seg' else f'{out_dir}-{task}'


def methods_error(methods: List[str],
                  backbone: str,
                  task: str = 'seg') -> Optional[str]:
    """Why ``methods`` cannot run on ``backbone`` for ``task`` (none, or a
    name that is not one of its methods), listing the allowed ones; None if
    they can."""
    allowed = backbone_methods(backbone, task)
    unknown = [m for m in methods if m not in allowed] if methods else ['']
    if not unknown:
        return None
    elsewhere = [
        f'{m}: --backbone {"/".join(METHODS[m])}' + (
            f' --task {"/".join(METHOD_TASKS[m])}'
            if m in METHOD_TASKS else '') for m in unknown if m in METHODS
    ]
    hint = f' ({"; ".join(elsewhere)})' if elsewhere else ''
    return (f'unknown method(s) {unknown} for --backbone {backbone} --task '
            f'{task}{hint}; allowed: {", ".join(allowed)}')


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


def transfer_settings(backbone: str = 'resnet18',
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
    (``SETTINGS['full']`` and the track's source and splits), or the smoke
    run's with ``quick``.

    Args:
        backbone (str): The track, a key of :data:`BACKBONES`.
        task (str): The target task, a key of :data:`TASKS`.
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
    defaults = SETTINGS['quick'] if quick else dict(
        SETTINGS['full'], **TASKS[task]['splits'][backbone])
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
    :class:`~mmprotune.analysis.pretrain.PretrainSettings` fields but
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


def source_key(args: dict) -> str:
    """The cache key of a source checkpoint: the hash of every pretraining
    argument (:func:`pretrain_args`)."""
    return key_hash(dict(args))


def config_path(method: str,
                backbone: str = 'resnet18',
                task: str = 'seg') -> str:
    """The ``configs/transfer/`` file of ``method`` on ``backbone`` for
    ``task``."""
    spec = TASKS[task]
    return osp.join(
        CONFIG_DIR, spec['config'].format(
            method=method, backbone=spec['backbones'][backbone]))


# ----------------------------------------------------------------------
# source checkpoint and target data
def pretrain(settings: TransferSettings) -> dict:
    """The track's source backbone in ``settings.out_dir`` (the path the
    configs name), made with every one of ``settings.pretrain``: the one
    there if its ``.json`` sidecar names them and the checkpoint's sha256,
    else a copy of such a one in the :data:`SOURCES_FOLDER` of
    ``settings.records`` or of a ``settings.reuse_records`` folder (a study
    continued from records committed elsewhere reuses their source, which
    every record's key names), else pretrained, with its progress in a log
    file beside it, and copied there into ``settings.records`` with its
    sidecar.

    Returns:
        dict: ``checkpoint`` (path), ``summary`` (the pretraining's
        summary line), ``settings`` (the pretraining arguments), ``key``
        (:func:`source_key`) and ``sha256`` (of the checkpoint).
    """
    args = dict(settings.pretrain)
    stem = (f'{BACKBONES[settings.backbone]["checkpoint_stem"]}-'
            f'{args["iters"]}i-{args["num_images"]}img')
    files = (f'{stem}.pth', f'{stem}.json')
    key = source_key(args)
    cached = _cached_source(osp.join(settings.out_dir, stem), key)
    if cached:
        return cached
    for records in (settings.records, *settings.reuse_records):
        folder = osp.join(records, SOURCES_FOLDER)
        if _cached_source(osp.join(folder, stem), key):
            _copy_files(folder, settings.out_dir, files)
            return _cached_source(osp.join(settings.out_dir, stem), key)
    checkpoint = osp.join(settings.out_dir, files[0])
    with open(osp.join(settings.out_dir, f'{stem}.log'), 'w',
              encoding='utf-8') as log, contextlib.redirect_stdout(log):
        summary = pretrain_backbone(PretrainSettings(out=checkpoint, **args))
    source = dict(checkpoint=checkpoint, summary=summary,
                  settings=canonical(args), key=key,
                  sha256=_sha256(checkpoint))
    atomic_write(json.dumps(source, indent=2),
                 osp.join(settings.out_dir, files[1]), encoding='utf-8')
    _copy_files(settings.out_dir, osp.join(settings.records, SOURCES_FOLDER),
                files)
    return source


def _copy_files(src: str, dst: str, names: Sequence[str]) -> None:
    """Copy the files ``names`` from folder ``src`` into ``dst``, each
    atomically (:func:`atomic_write`), in order: a sidecar last, so a copy
    stopped half way is not taken for a source (:func:`_cached_source`)."""
    for name in names:
        with open(osp.join(src, name), 'rb') as f:
            atomic_write(f.read(), osp.join(dst, name))


def _cached_source(stem: str, key: str) -> Optional[dict]:
    """The sidecar ``<stem>.json`` of ``<stem>.pth`` if it was made under
    ``key`` and the checkpoint is the one it names (a pretraining stopped
    between the two writes is not taken for the old one); else None."""
    checkpoint, sidecar = f'{stem}.pth', f'{stem}.json'
    if not (osp.isfile(checkpoint) and osp.isfile(sidecar)):
        return None
    try:
        with open(sidecar, encoding='utf-8') as f:
            source = json.load(f)
    except ValueError:
        return None
    if source.get('key') != key or source.get('sha256') != _sha256(
            checkpoint):
        return None
    return dict(source, checkpoint=checkpoint)


def _sha256(path: str) -> str:
    """The sha256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


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
        >>> s = transfer_settings(quick=True)  # 8 selection, pool of 16
        >>> idx = train_indices(s, 8, seed=0)
        >>> len(idx), min(idx) >= 8, max(idx) < 24
        (8, True, True)
    """
    rng = np.random.default_rng(seed)
    drawn = rng.choice(settings.pool_size, size=train_size, replace=False)
    return sorted(int(i) + settings.num_select for i in drawn)


def choose_setting(scores: Dict[tuple, float]) -> tuple:
    """The setting ``(lr, backbone_lr_mult)`` of the best selection score
    (``{setting: score}``; the multiplier None for a method without
    pretrained weights to train); of equal scores the smallest lr, then
    the smallest multiplier."""
    return max(sorted(scores), key=scores.__getitem__)


def curve_iters(iters: int, interval: int) -> List[int]:
    """The iterations a training loop of ``iters`` iterations evaluates at
    with ``val_interval=interval``: every ``interval`` and the last.

    Example:
        >>> curve_iters(500, 100), curve_iters(4, 1), curve_iters(7, 2)
        ([100, 200, 300, 400, 500], [1, 2, 3, 4], [2, 4, 6, 7])
    """
    return list(range(interval, iters, interval)) + [iters]


def pretrained_trainable(config: str, checkpoint: str) -> List[str]:
    """The trainable parameters of ``config``'s model that start from the
    source ``checkpoint``: ``backbone.<key>`` for each key of its state
    dict, where the config loads it (``init_cfg``; not ``scratch``). Found
    from the model itself (``requires_grad``), not a list of methods: full
    fine-tuning trains the whole backbone; BitFit, LoRA and the other
    frozen-backbone methods train new tensors under ``backbone.prompts``
    only (BitFit's bias offsets included), so none.

    A method with such parameters is tried at each of
    :attr:`TransferSettings.backbone_lr_mults` (:func:`run_config`).
    """
    import torch
    cfg = Config.fromfile(config)
    if not cfg.model.backbone.get('init_cfg'):
        return []
    keys = set(
        torch.load(checkpoint, map_location='cpu',
                   weights_only=True)['state_dict'])
    prefix = 'backbone.'
    return [
        name for name, param in build_model(cfg).named_parameters()
        if param.requires_grad and name.startswith(prefix)
        and name[len(prefix):] in keys
    ]


def settings_grid(settings: TransferSettings, checkpoint: str,
                  method: str) -> List[tuple]:
    """The settings ``(lr, backbone_lr_mult)`` ``method`` is tried at on
    the selection split: each lr of the grid with each multiplier if it
    trains pretrained weights (:func:`pretrained_trainable`), else with
    None (the config's ``paramwise_cfg`` as it is)."""
    config = config_path(method, settings.backbone, settings.task)
    mults = settings.backbone_lr_mults if pretrained_trainable(
        config, checkpoint) else [None]
    return [(lr, mult) for lr in settings.lr_grid for mult in mults]


# ----------------------------------------------------------------------
# one run
def run_config(config: str,
               data_root: str,
               checkpoint: str,
               lr: float,
               train_images: Sequence[int],
               eval_images: Optional[Sequence[int]],
               seed: int,
               iters: int,
               work_dir: str,
               backbone_lr_mult: Optional[float] = None) -> Config:
    """A method's config pointed at the data and checkpoint, with the lr,
    training images, evaluation images, seed and iteration count of one
    run; no checkpoint written.

    Args:
        lr (float): The optimizer's lr (a parameter group's ``lr_mult``
            stays relative to it).
        train_images (Sequence[int]): Indices into the training list.
        eval_images (Sequence[int], optional): Training-list indices to
            evaluate on (the selection split), with the test pipeline and
            the task's evaluator, by the training loop's validation
            (``val_dataloader``, ``ValLoop``) every ``ceil(iters /
            CURVE_POINTS)`` iterations and at the last: the run's curve
            (:func:`curve_iters`). None: tested once at the end on the
            validation images (the test split, ``Runner.test``).
        backbone_lr_mult (float, optional): ``lr_mult`` of the backbone's
            own (pretrained) weights: ``paramwise_cfg.custom_keys``
            ``'backbone'``; ``'backbone.prompts'`` (every new module of a
            method) keeps its own setting or gets ``lr_mult=1``, and the
            head is not matched, so neither is slowed. None: the config's
            ``paramwise_cfg`` as it is.
    """
    cfg = Config.fromfile(config)
    cfg.work_dir = work_dir
    cfg.experiment_name = cfg.visualizer.name = osp.basename(work_dir)
    cfg.log_level = 'ERROR'  # the progress bar and results stay readable
    cfg.randomness = dict(seed=seed)
    cfg.optim_wrapper.optimizer.lr = lr
    if backbone_lr_mult is not None:
        paramwise = cfg.optim_wrapper.get('paramwise_cfg') or {}
        keys = dict(paramwise.get('custom_keys') or {})
        keys['backbone'] = dict(keys.get('backbone', {}),
                                lr_mult=backbone_lr_mult)
        keys.setdefault('backbone.prompts', dict(lr_mult=1.0))
        cfg.optim_wrapper.paramwise_cfg = dict(paramwise, custom_keys=keys)
    if cfg.model.backbone.init_cfg:  # all but ``scratch``
        cfg.model.backbone.init_cfg.checkpoint = checkpoint
    train_set = cfg.train_dataloader.dataset
    train_set.update(data_root=data_root, indices=list(train_images))
    cfg.test_dataloader.dataset.data_root = data_root
    train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters)
    if eval_images is None:
        cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    else:
        cfg.val_dataloader = dict(
            copy.deepcopy(cfg.test_dataloader),
            dataset=dict(
                copy.deepcopy(train_set),
                pipeline=cfg.test_dataloader.dataset.pipeline,
                indices=list(eval_images)))
        cfg.val_cfg = dict(type='ValLoop')
        cfg.val_evaluator = copy.deepcopy(cfg.test_evaluator)
        train_cfg.update(val_interval=-(-iters // CURVE_POINTS))
    old_iters = cfg.train_cfg.max_iters
    cfg.train_cfg = train_cfg
    for scheduler in cfg.param_scheduler:  # the same shape, over ``iters``
        begin = round(scheduler.begin * iters / old_iters)
        scheduler.update(begin=begin, end=max(
            begin + 1, round(scheduler.end * iters / old_iters)))
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger.interval = max(1, iters // 10)
    return cfg


def run_once(cfg: Config, metrics: Dict[str, str]) -> dict:
    """Train ``cfg`` with a fresh Runner and evaluate it: a selection run
    (a ``val_cfg``, :func:`run_config`) by its training loop's
    validations, the last one its score; a test run by ``Runner.test``
    at the end. Return its ``metrics`` (name -> key of the evaluator's
    output, e.g. ``TASKS[task]['metrics']``), a selection run's ``curve``,
    parameter counts, step time, memory and checkpoint figures.

    Returns:
        dict: ``train_s`` (a selection run's validations included),
        ``test_s`` (a test run), ``step_s`` (median), ``loss_curve`` (10
        chunk means), the ``metrics``, ``curve`` (a selection run: one
        ``{'iter': ..., <metric>: ...}`` per validation), ``peak_train_bytes``
        (:func:`peak_train_bytes`), ``trainable_params``,
        ``backbone_trainable_params``, ``saved_bytes`` and
        ``checkpoint_bytes``.
    """
    from mmengine.runner import Runner

    from .benchmark import model_figures

    runner = Runner.from_cfg(cfg)
    start = time.perf_counter()
    runner.train()
    train_s = time.perf_counter() - start
    hub = runner.message_hub
    step_s = np.asarray(hub.get_scalar('train/time').data[0]) - np.asarray(
        hub.get_scalar('train/data_time').data[0])
    losses = np.asarray(hub.get_scalar('train/loss').data[0])
    result = dict(
        train_s=train_s,
        step_s=float(np.median(step_s)),
        loss_curve=[float(c.mean()) for c in np.array_split(losses, 10)
                    if len(c)])
    if cfg.val_cfg:  # the validations of the training loop
        points = curve_iters(cfg.train_cfg.max_iters,
                             cfg.train_cfg.val_interval)
        # the last ones: a hub of the same name lives on in the process
        values = {
            name: hub.get_scalar(f'val/{key}').data[0][-len(points):]
            for name, key in metrics.items()
        }
        result['curve'] = [
            dict(iter=it, **{name: float(v[i])
                             for name, v in values.items()})
            for i, it in enumerate(points)
        ]
        result.update(
            {name: point
             for name, point in result['curve'][-1].items()
             if name != 'iter'})
    else:
        start = time.perf_counter()
        tested = runner.test()
        result['test_s'] = time.perf_counter() - start
        # mmseg's IoUMetric returns numpy scalars (np.float32 under numpy 2)
        result.update(
            {name: float(tested[key])
             for name, key in metrics.items()})
    # after the evaluation: a training step and a training-mode forward
    # update BN statistics
    batch = next(iter(runner.train_dataloader))
    result['peak_train_bytes'] = peak_train_bytes(runner.model,
                                                  runner.optim_wrapper, batch)
    model = runner.model
    figures = model_figures(model, model.data_preprocessor(batch, True))
    counts = figures['params']
    delta = figures['checkpoint_bytes_delta']
    result.update(
        trainable_params=counts['all']['trainable'],
        backbone_trainable_params=sum(
            counts[part]['trainable']
            for part in ('backbone.prompts', 'backbone (trainable)')),
        saved_bytes=figures['saved_bytes_model'],
        checkpoint_bytes=figures['checkpoint_bytes_full']
        if delta is None else delta)
    return result


def peak_train_bytes(model, optim_wrapper, batch: dict) -> int:
    """Peak memory of one training step of a trained ``model``
    (:func:`~mmprotune.utils.memory.peak_allocated` of
    ``model.train_step(batch, optim_wrapper)``: data preprocessing,
    forward, backward, optimizer step), counted from the bytes of its
    parameters, buffers and optimizer states (which exist after a first
    step) on the CPU, from the CUDA allocator's count on a GPU.

    Args:
        model (BaseModel): The Runner's model.
        optim_wrapper (OptimWrapper): Its optimizer wrapper.
        batch (dict): One batch of its training dataloader.
    """
    import torch

    from ..utils.memory import peak_allocated
    states = [
        value for state in optim_wrapper.optimizer.state.values()
        for value in state.values() if torch.is_tensor(value)
    ]
    model.train()
    peak, _ = peak_allocated(
        lambda: model.train_step(batch, optim_wrapper),
        held=(*model.parameters(), *model.buffers(), *states),
        device=next(model.parameters()).device)
    return peak


def run_key(settings: TransferSettings,
            method: str,
            train_size: int,
            seed: int,
            phase: str,
            lr: float,
            config: Optional[str] = None,
            backbone_lr_mult: Optional[float] = None) -> dict:
    """Every setting that affects the run of ``method`` on ``train_size``
    images with ``seed`` at ``lr`` (and ``backbone_lr_mult``) in ``phase``:
    the key of its record. Nothing of the machine (no path), so records
    move between machines.

    Args:
        phase (str): ``'select'`` (evaluated on the selection split) or
            ``'test'`` (on the test split), see :data:`PHASES`.
        config (str, optional): The method's config. Default:
            :func:`config_path`.
        backbone_lr_mult (float, optional): See :func:`run_config`.

    Returns:
        dict: ``protocol`` (``RECORD_PROTOCOL``), ``backbone``, ``task``,
        ``method``, ``phase``, ``train_size``, ``seed``, ``train_images``
        (the hash of :func:`train_indices`), ``iters``, ``curve_points``
        (:data:`CURVE_POINTS`), ``lr``, ``backbone_lr_mult``, ``config``
        (the hash of the resolved config, its ``_base_`` files included),
        ``source`` (every pretraining argument), ``data`` (the target set's
        selection, pool and test images, image size and seed) and
        ``versions`` (mmprotune, the task's package (mmseg, mmpretrain),
        mmengine).

    Raises:
        ValueError: ``phase`` is not one of :data:`PHASES`.
    """
    import importlib

    import mmengine

    from .. import __version__
    if phase not in PHASES:
        raise ValueError(f'phase: unknown {phase!r}; allowed: '
                         f'{", ".join(PHASES)}')
    package = TASKS[settings.task]['package']
    cfg = Config.fromfile(
        config or config_path(method, settings.backbone, settings.task))
    return canonical(
        dict(
            protocol=RECORD_PROTOCOL,
            backbone=settings.backbone,
            task=settings.task,
            method=method,
            phase=phase,
            train_size=train_size,
            seed=seed,
            train_images=key_hash(train_indices(settings, train_size, seed)),
            iters=settings.iters[train_size],
            curve_points=CURVE_POINTS,
            lr=lr,
            backbone_lr_mult=backbone_lr_mult,
            config=key_hash(cfg.to_dict()),
            source=settings.pretrain,
            data=dict(
                num_select=settings.num_select,
                pool_size=settings.pool_size,
                num_val=settings.num_val,
                img_size=IMG_SIZE,
                seed=TASKS[settings.task]['data_seed']),
            versions={
                'mmprotune': __version__,
                package: importlib.import_module(package).__version__,
                'mmengine': mmengine.__version__
            }))


def selects(settings: TransferSettings, grid: Sequence[tuple]) -> bool:
    """Whether a method tried at ``grid`` (:func:`settings_grid`) has
    selection runs: a grid of more than one setting, or ``select_only``."""
    return len(grid) > 1 or settings.select_only


def planned_runs(settings: TransferSettings,
                 grids: Dict[str, List[tuple]]) -> int:
    """How many runs :func:`run_all` makes: per split size and method, one
    per setting of its grid (``grids``: :func:`settings_grid` per method;
    none for a grid of one setting unless ``select_only``) and one per
    seed (none with ``select_only``)."""
    per_split = sum(
        (len(grid) if selects(settings, grid) else 0) +
        (0 if settings.select_only else settings.seeds)
        for grid in grids.values())
    return len(settings.train_sizes) * per_split


def run_all(settings: TransferSettings,
            source: dict,
            data_root: str,
            on_run: Callable[[List[dict], int], None],
            on_start: Optional[Callable[[str, int], None]] = None
            ) -> List[dict]:
    """Per split size and method: the selection runs (seed 0, each setting
    of :func:`settings_grid`, evaluated on the selection split), the
    choice (:func:`choose_setting`; the only setting of a grid of one),
    then the test runs (each seed at that setting, evaluated on the test
    split; none with ``settings.select_only``). A run recorded under its
    :func:`run_key` in ``settings.records`` or ``settings.reuse_records``
    is taken from there; any other trains and is recorded in
    ``settings.records`` as soon as it finishes.

    Args:
        settings (TransferSettings): What to run.
        source (dict): The source checkpoint (:func:`pretrain`).
        data_root (str): The target data (:func:`make_target_data`).
        on_run (callable): Called after each run (trained or taken from a
            record) with the runs so far and the number planned (e.g. to
            rewrite the report and print a line).
        on_start (callable, optional): Called before each run with its
            name (:func:`~.transfer_records.run_name`) and the number
            planned, e.g. to update a progress bar. Default: None.

    Returns:
        list[dict]: One dict per run: ``train_size``, ``method``,
        ``phase``, ``lr``, ``backbone_lr_mult``, ``seed``,
        ``train_images`` (the hash of its training images' indices),
        ``config`` (relative to the repository), :func:`run_once`'s,
        ``record`` (its file name), ``reused`` (taken from a record) and
        ``machine`` (where it was measured).
    """
    metric = TASKS[settings.task]['metric']
    grids = {
        method: settings_grid(settings, source['checkpoint'], method)
        for method in settings.methods
    }
    planned = planned_runs(settings, grids)
    folders = [settings.records, *settings.reuse_records]
    here = machine()
    runs: List[dict] = []

    def one(size: int, method: str, phase: str, seed: int, lr: float,
            mult: Optional[float]) -> dict:
        key = run_key(settings, method, size, seed, phase, lr,
                      backbone_lr_mult=mult)
        name = run_name(key)
        if on_start:
            on_start(name, planned)
        record = find_record(folders, key)
        if record:
            run = record['run']
        else:
            config = config_path(method, settings.backbone, settings.task)
            images = train_indices(settings, size, seed)
            cfg = run_config(
                config, data_root, source['checkpoint'], lr, images,
                range(settings.num_select) if phase == 'select' else None,
                seed, settings.iters[size],
                osp.join(settings.out_dir, 'runs', name), mult)
            run = dict(train_size=size, method=method, phase=phase, lr=lr,
                       backbone_lr_mult=mult, seed=seed,
                       train_images=key['train_images'],
                       config=osp.relpath(config, REPO_ROOT),
                       **run_once(cfg, TASKS[settings.task]['metrics']))
            write_record(settings.records, key, run, machine=here,
                         source_summary=source['summary'])
        runs.append(dict(run, record=record_name(key),
                         reused=record is not None,
                         machine=record['machine'] if record else here))
        on_run(runs, planned)
        return run

    for size in settings.train_sizes:
        for method in settings.methods:
            grid = grids[method]
            scores = {
                setting: one(size, method, 'select', 0, *setting)[metric]
                for setting in grid
            } if selects(settings, grid) else {}
            if settings.select_only:
                continue
            lr, mult = choose_setting(scores) if scores else grid[0]
            for seed in range(settings.seeds):
                one(size, method, 'test', seed, lr, mult)
    return runs


def settings_record(settings: TransferSettings) -> dict:
    """The settings as ``transfer.json`` records them."""
    record = asdict(settings)
    for path in ('out_dir', 'records', 'reuse_records'):
        record.pop(path)
    record.update(img_size=IMG_SIZE,
                  target_seed=TASKS[settings.task]['data_seed'])
    return record
