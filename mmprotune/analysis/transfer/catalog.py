"""What the transfer benchmark compares: its tracks (the source backbones,
:data:`BACKBONES`), target tasks (:data:`TASKS`; a task names the backbones
it has configs for), the methods each track has configs for
(:data:`METHOD_TRACKS`, :data:`METHOD_TASKS`) and where those configs are
(:func:`config_path`)."""
import os.path as osp
from collections import OrderedDict
from typing import List, Optional

from ...datasets import (convert_raccoon, make_ade20k_shapes,
                         make_imagenet_shapes)

#: Training iterations of the CamVid and raccoon tracks' runs (their
#: configs' names).
CAMVID_ITERS = 250
RACCOON_ITERS = 300

#: Per track (``--backbone``): the source, either pretrained here to count
#: shapes (``source='count'``: the arguments of
#: :class:`~.pretrain.PretrainSettings` besides the shared ones
#: (``pretrain``), iterations and images of the shipped benchmark) or real
#: ImageNet weights (``source='imagenet'``: fetched and converted for the
#: package of the task, :func:`~.source.source_checkpoint`); the
#: checkpoint's name (``checkpoint_stem``, ``-<package>`` after it for
#: ImageNet weights); the default output folder of its first synthetic task
#: (:func:`default_out_dir`); the name in the plot.
BACKBONES = OrderedDict(
    resnet18=dict(
        source='count',
        pretrain=dict(depth=18, base_channels=16),
        pretrain_iters=1000,
        pretrain_images=4000,
        checkpoint_stem='resnet18-w16_count',
        out_dir='work_dirs/transfer',
        title='count-pretrained ResNet-18'),
    swin=dict(
        source='count',
        pretrain=dict(arch='swin', embed_dims=32, lr=5e-4),
        # its validation count accuracy plateaus at about 0.64 from 4800
        # iterations on (600 on 4000 images: 0.47; docs/transfer_benchmark.md)
        pretrain_iters=6000,
        pretrain_images=8000,
        checkpoint_stem='swin-e32-p2-w4_count',
        out_dir='work_dirs/transfer-swin',
        title='count-pretrained small Swin'),
    mobilenetv2=dict(
        source='imagenet',
        checkpoint_stem='mobilenet-v2_imagenet',
        title='ImageNet MobileNetV2'),
)
#: Per target task (``--task``): its configs
#: (``<config_dir>/<config>`` with the method and the backbone's name
#: in ``backbones``, the tracks it has), the metrics a run keeps (its name
#: -> the key of ``Runner.test``'s output), the one the tables report
#: (``metric``, printed as ``metric_label``), the package that evaluates
#: it (its version is in a record's key), the target data, the shipped
#: benchmark's training splits and their iterations per track (``splits``;
#: also the selection split's size where it is not
#: :data:`~.settings.PRESET_SETTINGS`') and the words of the plot title.
#:
#: The target data are made here (``data``: its folder stem and the
#: function that writes it; ``data_seed``: its seed) or real (``folders``:
#: under ``--data-root``, the image folder and the labels of the training
#: split and of each test split, the first the default: a folder of label
#: maps, or a list file of the split's boxes; ``convert``: the folder stem
#: under ``--out-dir`` and the function that writes each split's COCO JSON
#: there, from the Pascal VOC XML; ``class_metric``: the test output's
#: key of a class's IoU, ``'{}'`` its name, kept per class;
#: ``images_with_people``: the stems of test images that show people, which
#: the prediction pictures leave out).
TASKS = OrderedDict(
    seg=dict(
        config='fcn_{method}-{backbone}_1xb16-500i_shapes-ade20k-64x64.py',
        backbones=dict(resnet18='r18-w16-d8', swin='swin-e32-p2-w4'),
        metrics=dict(mIoU='mIoU', aAcc='aAcc', mAcc='mAcc'),
        metric='mIoU',
        metric_label='mIoU',
        package='mmseg',
        # seed 2: the protocol-1 settings were chosen on seed 0's images
        data=('shapes_ade20k', make_ade20k_shapes),
        data_seed=2,
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
    camvid=dict(
        config='fpn_{method}-{backbone}_1xb8-%di_camvid-240x320.py' %
        CAMVID_ITERS,
        backbones=dict(mobilenetv2='mobilenet-v2'),
        metrics=dict(mIoU='mIoU', aAcc='aAcc', mAcc='mAcc'),
        metric='mIoU',
        metric_label='mIoU',
        class_metric='IoU.{}',
        package='mmseg',
        folders=dict(
            train=('train', 'trainannot'),
            val=('val', 'valannot'),
            test=('test', 'testannot')),
        # 67 selection images, 300 in the pool: the low-data split and all;
        # AdamW's usual lrs, widened where a choice lands on an edge
        splits=dict(
            mobilenetv2=dict(train_sizes=(50, 300),
                             iters=(CAMVID_ITERS, CAMVID_ITERS),
                             num_select=67,
                             lr_grid=(3e-4, 1e-3, 3e-3))),
        title='CamVid road scenes'),
    raccoon=dict(
        config='faster-rcnn_{method}-{backbone}_fpn_1xb8-%di_raccoon-320.py'
        % RACCOON_ITERS,
        backbones=dict(mobilenetv2='mobilenet-v2'),
        metrics=dict(
            AP='coco/bbox_mAP', AP50='coco/bbox_mAP_50',
            AP75='coco/bbox_mAP_75'),
        metric_scale=100,
        metric='AP',
        metric_label='box AP',
        package='mmdet',
        folders=dict(
            train=('images', 'data/train_labels.csv'),
            test=('images', 'data/test_labels.csv')),
        convert=('coco', convert_raccoon),
        # photos from the web that show people (a selfie, a public figure,
        # hands, legs): their predictions are saved, never drawn
        images_with_people=('raccoon-105', 'raccoon-106', 'raccoon-176',
                            'raccoon-181', 'raccoon-197'),
        # 40 of the 160 training images select (as many as the test split
        # holds), 120 in the pool: the low-data split and all
        splits=dict(
            mobilenetv2=dict(train_sizes=(50, 120),
                             iters=(RACCOON_ITERS, RACCOON_ITERS),
                             num_select=40,
                             lr_grid=(3e-4, 1e-3, 3e-3))),
        title='raccoon detection'),
)
#: The tracks of the synthetic tasks (``seg``, ``cls``).
SYNTHETIC_TRACKS = ('resnet18', 'swin')
#: The design study's variants of the Pro-tuning block (method
#: ``protune-<variant>``, config ``<head>_protune-<variant>-...``) -> the
#: tracks with a config for it.
DESIGN_VARIANTS = OrderedDict(
    block=(*SYNTHETIC_TRACKS, 'mobilenetv2'),
    ms=SYNTHETIC_TRACKS,
    output=(*SYNTHETIC_TRACKS, 'mobilenetv2'),
    scale=SYNTHETIC_TRACKS,
    wide=SYNTHETIC_TRACKS,
    all=('mobilenetv2', ))
#: Method (``configs/transfer/fcn_<method>-...``) -> the tracks it has a
#: config for, in table order; for every task unless :data:`METHOD_TASKS`
#: names fewer.
METHOD_TRACKS = OrderedDict([
    ('full', (*SYNTHETIC_TRACKS, 'mobilenetv2')),
    ('head-only', (*SYNTHETIC_TRACKS, 'mobilenetv2')),
    ('protune', (*SYNTHETIC_TRACKS, 'mobilenetv2')),
    ('bitfit', (*SYNTHETIC_TRACKS, 'mobilenetv2')),
    ('lora', (*SYNTHETIC_TRACKS, 'mobilenetv2')),
    ('conv-adapter', ('resnet18', 'mobilenetv2')),
    ('adaptformer', ('swin', )),
    ('vpt', ('swin', )),
    ('mona', (*SYNTHETIC_TRACKS, 'mobilenetv2')),
    ('scratch', SYNTHETIC_TRACKS),
    # design-study variants of Pro-tuning, segmentation only, opt in (see
    # docs/design.md), compared on the selection split (``--select-only``):
    # prompts after every block (prompt_cfg ``placement='block'``),
    # multi-scale depth-wise kernels (``kernel_size=(3, 5, 7)``), computed
    # from the stage's output (``prompt_input='output'``, the default until
    # the study), a learnt per-channel scale (``layer_scale=True``), twice
    # the hidden width (128), and on MobileNetV2 (whose default, chosen by
    # its study, has none after layers 1 and 2) one after every layer
    *[(f'protune-{variant}', tracks)
      for variant, tracks in DESIGN_VARIANTS.items()],
])
#: Methods with configs for some tasks only: the tasks.
METHOD_TASKS = {
    f'protune-{variant}': ('seg', 'camvid')
    for variant in DESIGN_VARIANTS
}
#: Not run unless named.
OPT_IN_METHODS = ('scratch', *METHOD_TASKS)
#: Image size of the synthetic tasks.
IMG_SIZE = 64


def is_real(task: str) -> bool:
    """Whether ``task``'s data are real (a ``--data-root`` folder), not
    made here."""
    return 'folders' in TASKS[task]


def backbone_tasks(backbone: str) -> List[str]:
    """The tasks that have configs for ``backbone``, its default first."""
    return [t for t, spec in TASKS.items() if backbone in spec['backbones']]


def task_error(backbone: str, task: str) -> Optional[str]:
    """Why ``task`` cannot run on ``backbone`` (an unknown task, or one
    without configs for it), with the allowed ones; None if it can."""
    if task not in TASKS:
        return f'--task: unknown task {task!r}; allowed: {", ".join(TASKS)}'
    if backbone not in TASKS[task]['backbones']:
        return (f'--task {task} has no configs for --backbone {backbone}; '
                f'allowed: {", ".join(backbone_tasks(backbone))}')
    return None


def backbone_methods(backbone: str, task: str = 'seg') -> List[str]:
    """The methods that have a config for ``backbone`` and ``task``."""
    return [
        m for m, tracks in METHOD_TRACKS.items()
        if backbone in tracks and task in METHOD_TASKS.get(m, TASKS)
        and backbone in TASKS[task]['backbones']
    ]


def default_methods(backbone: str, task: str = 'seg') -> List[str]:
    """The methods run unless others are named."""
    return [
        m for m in backbone_methods(backbone, task)
        if m not in OPT_IN_METHODS
    ]


def default_out_dir(task: str, backbone: str) -> str:
    """``work_dirs/transfer-<task>`` for a real task; else the track's
    folder (``work_dirs/transfer[-swin]``) for its default task
    (:func:`backbone_tasks`), with ``-<task>`` after it for another task
    (e.g. ``work_dirs/transfer-cls``)."""
    if is_real(task):
        return f'work_dirs/transfer-{task}'
    out_dir = BACKBONES[backbone]['out_dir']
    return out_dir if task == backbone_tasks(backbone)[0] else \
        f'{out_dir}-{task}'


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
        f'{m}: ' + ', '.join(method_places(m)) for m in unknown
        if m in METHOD_TRACKS
    ]
    hint = f' ({"; ".join(elsewhere)})' if elsewhere else ''
    return (f'unknown method(s) {unknown} for --backbone {backbone} --task '
            f'{task}{hint}; allowed: {", ".join(allowed)}')


def method_places(method: str) -> List[str]:
    """``--backbone <b> --task <t1>/<t2>`` for each backbone that has
    ``method`` for some of its tasks."""
    places = []
    for backbone in BACKBONES:
        tasks = [t for t in backbone_tasks(backbone)
                 if method in backbone_methods(backbone, t)]
        if tasks:
            places.append(f'--backbone {backbone} --task {"/".join(tasks)}')
    return places


def config_path(config_dir: str,
                method: str,
                backbone: str = 'resnet18',
                task: str = 'seg') -> str:
    """The config of ``method`` on ``backbone`` for ``task``.

    Args:
        config_dir (str): The folder of the benchmark's configs
            (``configs/transfer`` of a checkout, see
            :attr:`~.settings.TransferSettings.config_dir`).
    """
    spec = TASKS[task]
    return osp.join(
        config_dir, spec['config'].format(
            method=method, backbone=spec['backbones'][backbone]))
