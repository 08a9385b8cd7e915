"""Point any mmdet/mmseg config of this repository at the tiny synthetic data,
so that a test can run the real model for a few iterations on a CPU."""
from typing import Optional

from mmengine.config import Config, ConfigDict

from .synthetic_data import SHAPE_CLASSES


def _shrink_pipeline(pipeline: list, img_size: int) -> None:
    """Make every resize / crop of ``pipeline`` produce ``img_size`` images."""
    for transform in pipeline:
        if 'scale' in transform:
            transform['scale'] = (img_size, img_size)
        if 'crop_size' in transform:
            transform['crop_size'] = (img_size, img_size)
        if 'transforms' in transform:  # e.g. TTA wrappers
            for inner in transform['transforms']:
                _shrink_pipeline(inner if isinstance(inner, list) else
                                 [inner], img_size)


def tiny_config(cfg: Config,
                data_root: str,
                work_dir: str,
                img_size: int = 64,
                max_iters: int = 1,
                checkpoint: Optional[str] = None) -> Config:
    """A copy of ``cfg`` that trains ``max_iters`` iterations on the data
    of :func:`make_coco_shapes` (mmdet) or :func:`make_ade20k_shapes`
    (mmseg) in ``data_root``, with no validation.

    Pretrained loading is switched off, or pointed at ``checkpoint``.
    Everything else (model, optimizer, constructor, hooks) stays as
    configured.
    """
    cfg = cfg.copy()
    scope = cfg.get('default_scope')
    cfg.work_dir = work_dir
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
    for stage in ('val', 'test'):
        cfg[f'{stage}_cfg'] = cfg[f'{stage}_dataloader'] = None
        cfg[f'{stage}_evaluator'] = None
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger.interval = 1
    cfg.env_cfg.dist_cfg = dict(backend='gloo')
    cfg.randomness = dict(seed=0)
    cfg.auto_scale_lr = dict(enable=False, base_batch_size=16)

    backbone = cfg.model.backbone
    if checkpoint is None:
        backbone.init_cfg = None
    else:
        backbone.init_cfg = ConfigDict(type='Pretrained', checkpoint=checkpoint)
    if 'pretrained' in cfg.model:
        cfg.model.pretrained = None

    loader = cfg.train_dataloader
    loader.update(batch_size=2, num_workers=0, persistent_workers=False)
    dataset = loader.dataset
    while 'dataset' in dataset:  # dataset wrappers
        dataset = dataset.dataset
    dataset.data_root = data_root
    if scope == 'mmdet':
        dataset.metainfo = dict(classes=SHAPE_CLASSES)
    else:
        cfg.model.data_preprocessor.size = (img_size, img_size)
    _shrink_pipeline(dataset.pipeline, img_size)
    return cfg
