"""Point any mmdet/mmseg/mmpretrain config of this repository at the tiny
synthetic data, so that a test can run the real model for a few iterations on
a CPU."""
import copy
from typing import Optional

from mmengine.config import Config, ConfigDict

from ..datasets import SHAPE_CLASSES


def _shrunk(size, img_size: int):
    """``size`` (an int or a pair) capped at ``img_size``, in its own form."""
    if isinstance(size, int):
        return min(size, img_size)
    return tuple(min(s, img_size) for s in size)


def _shrink_pipeline(pipeline: list, img_size: int) -> None:
    """Cap every resize / crop of ``pipeline`` at ``img_size`` (an int scale
    stays an int: mmpretrain's ``ResizeEdge`` takes one side)."""
    for transform in pipeline:
        for key in ('scale', 'crop_size'):
            if key in transform:
                transform[key] = _shrunk(transform[key], img_size)
        if 'transforms' in transform:  # e.g. TTA wrappers
            for inner in transform['transforms']:
                _shrink_pipeline(inner if isinstance(inner, list) else
                                 [inner], img_size)


def _point_loader(loader: ConfigDict, data_root: str,
                  img_size: int) -> ConfigDict:
    """Batches of 2 in the main process, read from ``data_root``; returns
    the (innermost) dataset config."""
    loader.update(batch_size=2, num_workers=0, persistent_workers=False)
    dataset = loader.dataset
    while 'dataset' in dataset:  # dataset wrappers
        dataset = dataset.dataset
    dataset.data_root = data_root
    _shrink_pipeline(dataset.pipeline, img_size)
    return dataset


def tiny_config(cfg: Config,
                data_root: str,
                work_dir: str,
                img_size: int = 64,
                max_iters: int = 1,
                checkpoint: Optional[str] = None,
                validate: bool = False) -> Config:
    """A copy of ``cfg`` that trains ``max_iters`` iterations on the data
    of :func:`make_coco_shapes` (mmdet), :func:`make_ade20k_shapes` (mmseg),
    :func:`make_imagenet_shapes` or :func:`make_cifar_shapes` (mmpretrain, as
    the config's dataset reads) in ``data_root``, or on the data of its
    own layout (an mmdet dataset with its own ``metainfo`` keeps it, e.g.
    the raccoon configs' on :func:`~mmprotune.testing.make_raccoon`'s
    converted data), with batches of 2 and every resize / crop capped at
    ``img_size``.

    Pretrained loading is switched off, or pointed at ``checkpoint``.
    Everything else (model, optimizer, constructor, hooks) stays as
    configured.

    Args:
        validate (bool): Keep the config's validation (after the last
            iteration) and its test loop, with their evaluators, on the
            splits of ``data_root`` the config names. Only for evaluators
            that read no annotation file of their own (mmseg's and
            mmpretrain's). Default: False (no validation, no test loop).
    """
    cfg = copy.deepcopy(cfg)  # Config.copy() shares the nested dicts
    scope = cfg.get('default_scope')
    cfg.work_dir = work_dir
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
    for stage in ('val', 'test'):
        if not validate:
            cfg[f'{stage}_cfg'] = cfg[f'{stage}_dataloader'] = None
            cfg[f'{stage}_evaluator'] = None
            continue
        evaluators = cfg[f'{stage}_evaluator']
        if isinstance(evaluators, dict):
            evaluators = [evaluators]
        with_files = [e.type for e in evaluators if e.get('ann_file')]
        if with_files:
            raise ValueError(
                f'tiny_config(validate=True): the {stage}_evaluator '
                f'{with_files} reads its own ann_file, which is not moved to '
                'data_root; validate=True supports evaluators without '
                'ann_file')
        _point_loader(cfg[f'{stage}_dataloader'], data_root, img_size)
    if validate:
        cfg.train_cfg.val_interval = max_iters
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger.interval = 1
    # (configs without env_cfg take the Runner's default)
    cfg.env_cfg = dict(cfg.get('env_cfg', {}), dist_cfg=dict(backend='gloo'))
    cfg.randomness = dict(seed=0)
    cfg.auto_scale_lr = dict(enable=False, base_batch_size=16)

    backbone = cfg.model.backbone
    if checkpoint is None:
        backbone.init_cfg = None
    else:
        backbone.init_cfg = ConfigDict(
            type='Pretrained', checkpoint=checkpoint)
    if 'pretrained' in cfg.model:
        cfg.model.pretrained = None

    dataset = _point_loader(cfg.train_dataloader, data_root, img_size)
    if scope == 'mmdet' and 'metainfo' not in dataset:
        dataset.metainfo = dict(classes=SHAPE_CLASSES)
    elif scope == 'mmseg':
        cfg.model.data_preprocessor.size = (img_size, img_size)
    return cfg
