"""Tiny detector, segmentor and classifier configs of upstream model-zoo
configs with a ``ProTune*`` backbone that loads a written checkpoint, for a
few iterations of the real mmengine Runner on the synthetic shapes data
(:func:`make_data`); mmdet, mmseg and mmpretrain are imported when a case is
built."""
import math
from pathlib import Path

import torch
from mmengine.hooks import Hook
from mmengine.hub import get_config
from mmengine.runner import Runner

from mmprotune.datasets import (SEG_CLASSES, SHAPE_CLASSES, make_ade20k_shapes,
                                make_coco_shapes, make_imagenet_shapes)

from .checkpoints import write_pretrained_checkpoint

IMG = 64
SWIN = dict(
    type='SwinTransformer',
    embed_dims=16,
    depths=(1, 1, 1, 1),
    num_heads=(1, 2, 2, 4),
    window_size=4,
    pretrain_img_size=IMG,
    drop_path_rate=0.1,
    out_indices=(0, 1, 2, 3))
SWIN_CHANNELS = [16, 32, 64, 128]
#: the same Swin in mmpretrain's arguments, as a classifier takes it (the
#: last stage's output; a window no larger than its 2x2 map)
CLS_SWIN = dict(
    type='SwinTransformer',
    arch=dict(embed_dims=16, depths=(1, 1, 1, 1), num_heads=(1, 2, 2, 4)),
    window_size=2,
    img_size=IMG,
    drop_path_rate=0.1)
#: a ViT on a 4x4 patch grid, classifying from the class token
CLS_VIT = dict(
    type='VisionTransformer',
    arch=dict(embed_dims=16, num_layers=3, num_heads=2,
              feedforward_channels=32),
    img_size=IMG,
    patch_size=16,
    drop_rate=0.1)
RESNET = dict(depth=18, base_channels=8, stem_channels=8)
RESNET_CHANNELS = [8, 16, 32, 64]
#: a quarter-width MobileNetV2: its stages' channels (8, 8, 8, 16, 24, 40,
#: 80 and in mmdet and mmpretrain ``conv2``'s 1280) at the scope's outputs
MOBILENET_V2 = dict(type='MobileNetV2', widen_factor=0.25)
MOBILENET_V2_CHANNELS = dict(mmdet=[8, 8, 24, 1280], mmseg=[8, 8, 24, 80],
                             mmpretrain=[1280])


def make_data(root: Path) -> Path:
    """Write the tiny COCO-, ADE20K- and ImageNet-style shapes sets (8
    training and 2 validation images of :data:`IMG` px each) under ``root``
    (``coco/``, ``ade/``, ``imagenet/``); returns ``root``."""
    root = Path(root)
    make_coco_shapes(str(root / 'coco'), num_train=8, num_val=2,
                     img_size=IMG)
    make_ade20k_shapes(str(root / 'ade'), num_train=8, num_val=2,
                       img_size=IMG)
    make_imagenet_shapes(str(root / 'imagenet'), num_train=8, num_val=2,
                         img_size=IMG)
    return root


class Snapshot(Hook):
    """Keeps the model state right after weight init (before step 1)."""

    def before_train(self, runner):
        self.state = {
            k: v.detach().clone()
            for k, v in runner.model.state_dict().items()
        }


def _common(cfg, work_dir):
    cfg.custom_imports = dict(imports=['mmprotune'],
                              allow_failed_imports=False)
    cfg.work_dir = str(work_dir)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=3)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.optim_wrapper = dict(
        type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3),
        clip_grad=None)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger.interval = 1
    cfg.randomness = dict(seed=0)
    cfg.env_cfg.dist_cfg = dict(backend='gloo')
    return cfg


def det_cfg(data_root, work_dir, backbone, channels):
    """mmdet's RetinaNet config with ``backbone`` (output ``channels``) on
    the COCO-style shapes set."""
    cfg = get_config('mmdet::retinanet/retinanet_r50_fpn_1x_coco.py')
    cfg.model.backbone = backbone
    cfg.model.neck.in_channels = channels
    cfg.model.neck.out_channels = 32
    cfg.model.bbox_head.update(
        num_classes=len(SHAPE_CLASSES), in_channels=32, feat_channels=32,
        stacked_convs=1)
    cfg.train_dataloader.update(batch_size=2, num_workers=0,
                                persistent_workers=False)
    cfg.train_dataloader.dataset.update(
        data_root=str(data_root), metainfo=dict(classes=SHAPE_CLASSES),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True),
            dict(type='Resize', scale=(IMG, IMG), keep_ratio=True),
            dict(type='PackDetInputs')
        ])
    return _common(cfg, work_dir)


def seg_cfg(data_root, work_dir, base, backbone, channels):
    """The mmseg config ``base`` with ``backbone`` (output ``channels``) on
    the ADE20K-style shapes set."""
    cfg = get_config(base)
    cfg.model.pretrained = None
    cfg.model.data_preprocessor.size = (IMG, IMG)
    cfg.model.backbone = backbone
    cfg.model.decode_head.update(num_classes=len(SEG_CLASSES))
    if cfg.model.decode_head.type == 'UPerHead':
        cfg.model.decode_head.update(in_channels=channels, channels=16)
    else:
        cfg.model.decode_head.update(in_channels=channels[-1], channels=16)
    cfg.model.auxiliary_head.update(
        in_channels=channels[2], channels=16, num_classes=len(SEG_CLASSES))
    cfg.train_dataloader = dict(
        batch_size=2,
        num_workers=0,
        sampler=dict(type='InfiniteSampler', shuffle=True),
        dataset=dict(
            type='BaseSegDataset',
            data_root=str(data_root),
            data_prefix=dict(
                img_path='images/training',
                seg_map_path='annotations/training'),
            img_suffix='.jpg',
            seg_map_suffix='.png',
            reduce_zero_label=True,
            metainfo=dict(classes=SEG_CLASSES),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', reduce_zero_label=True),
                dict(type='PackSegInputs')
            ]))
    return _common(cfg, work_dir)


def cls_cfg(data_root, work_dir, base, backbone, channels):
    """An mmpretrain ``ImageClassifier`` from an upstream ImageNet config
    (Swin-T's keeps its Mixup/CutMix and model-level init), on the shapes
    classification set."""
    cfg = get_config(base)
    cfg.model.backbone = backbone
    cfg.model.head.update(num_classes=len(SHAPE_CLASSES),
                          in_channels=channels[-1], topk=(1, ))
    cfg.data_preprocessor.num_classes = len(SHAPE_CLASSES)
    cfg.train_dataloader.update(batch_size=2, num_workers=0,
                                persistent_workers=False)
    cfg.train_dataloader.dataset = dict(
        type='CustomDataset',
        data_root=str(data_root),
        ann_file='meta/train.txt',
        data_prefix='train',
        metainfo=dict(classes=SHAPE_CLASSES),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='RandomFlip', prob=0.5, direction='horizontal'),
            dict(type='PackInputs')
        ])
    return _common(cfg, work_dir)


def _backbone(upstream, checkpoint, prefix):
    """A ``ProTune*`` backbone config as a user writes it: the upstream
    config with ``type`` changed, loading the same checkpoint (with
    ``prefix='backbone.'`` for a detector's checkpoint unless the backbone
    strips it itself)."""
    cfg = dict(upstream, type='ProTune' + upstream['type'])
    if not prefix:
        cfg['init_cfg'] = dict(type='Pretrained', checkpoint=checkpoint)
    else:
        cfg['init_cfg'] = dict(
            type='Pretrained', checkpoint=checkpoint, prefix='backbone.')
    return cfg


SEG_BASES = dict(
    mobilenetv2='mmseg::mobilenet_v2/mobilenet-v2-d8_fcn_4xb4-160k_ade20k-'
    '512x512.py',
    resnet='mmseg::fcn/fcn_r50-d8_4xb4-80k_ade20k-512x512.py',
    swin='mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_'
    '8xb2-160k_ade20k-512x512.py')
CLS_BASES = dict(
    mobilenetv2='mmpretrain::mobilenet_v2/mobilenet-v2_8xb32_in1k.py',
    resnet='mmpretrain::resnet/resnet18_8xb32_in1k.py',
    swin='mmpretrain::swin_transformer/swin-tiny_16xb64_in1k.py',
    vit='mmpretrain::vision_transformer/vit-base-p16_64xb64_in1k.py')
CASES = {
    'mmdet-retinanet-resnet': ('mmdet', 'resnet'),
    'mmdet-retinanet-swin': ('mmdet', 'swin'),
    'mmseg-fcn-resnetv1c': ('mmseg', 'resnet'),
    'mmseg-upernet-swin': ('mmseg', 'swin'),
    'mmpretrain-classifier-resnetv1d': ('mmpretrain', 'resnet'),
    'mmpretrain-classifier-swin': ('mmpretrain', 'swin'),
    'mmpretrain-classifier-vit': ('mmpretrain', 'vit'),
    'mmdet-retinanet-mobilenetv2': ('mmdet', 'mobilenetv2'),
    'mmseg-fcn-mobilenetv2': ('mmseg', 'mobilenetv2'),
    'mmpretrain-classifier-mobilenetv2': ('mmpretrain', 'mobilenetv2'),
}


def build_case(name, data, tmp_path, overrides=None):
    """The config of Runner case ``name`` (a key of :data:`CASES`) on the
    data of :func:`make_data` under ``data``, working in ``tmp_path``, and
    the checkpoint its backbone loads (written there); ``overrides``:
    upstream backbone arguments changed from the case's."""
    scope, kind = CASES[name]
    swin = SWIN
    mobilenet = MOBILENET_V2
    if scope == 'mmdet':
        from mmdet.models.backbones import (MobileNetV2, ResNet,
                                            SwinTransformer)
        upstream_classes = dict(resnet=ResNet, swin=SwinTransformer,
                                mobilenetv2=MobileNetV2)
        resnet = dict(RESNET, type='ResNet', frozen_stages=1, norm_eval=True)
        mobilenet = dict(MOBILENET_V2, frozen_stages=1, norm_eval=True)
    elif scope == 'mmpretrain':
        from mmpretrain.models.backbones import (MobileNetV2, ResNetV1d,
                                                 SwinTransformer,
                                                 VisionTransformer)
        upstream_classes = dict(resnet=ResNetV1d, swin=SwinTransformer,
                                vit=VisionTransformer,
                                mobilenetv2=MobileNetV2)
        resnet = dict(RESNET, type='ResNetV1d', drop_path_rate=0.1)
        swin = CLS_SWIN
    else:
        from mmseg.models.backbones import (MobileNetV2, ResNetV1c,
                                            SwinTransformer)
        upstream_classes = dict(resnet=ResNetV1c, swin=SwinTransformer,
                                mobilenetv2=MobileNetV2)
        resnet = dict(RESNET, type='ResNetV1c', norm_eval=False,
                      dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1),
                      norm_cfg=dict(type='SyncBN', requires_grad=True))
        # as mmseg's MobileNetV2 configs: dilated to stride 8, SyncBN
        mobilenet = dict(MOBILENET_V2, strides=(1, 2, 2, 1, 1, 1, 1),
                         dilations=(1, 1, 1, 2, 2, 4, 4),
                         out_indices=(1, 2, 4, 6),
                         norm_cfg=dict(type='SyncBN', requires_grad=True))
    upstream = dict(dict(resnet=resnet, swin=swin, vit=CLS_VIT,
                         mobilenetv2=mobilenet)[kind], **(overrides or {}))
    channels = dict(resnet=RESNET_CHANNELS, swin=SWIN_CHANNELS,
                    vit=[16], mobilenetv2=MOBILENET_V2_CHANNELS[scope])[kind]
    checkpoint = tmp_path / 'pretrained.pth'
    kwargs = {k: v for k, v in upstream.items() if k != 'type'}
    if 'norm_cfg' in kwargs:
        kwargs['norm_cfg'] = dict(type='BN', requires_grad=True)
    loaded = write_pretrained_checkpoint(
        upstream_classes[kind](**kwargs), checkpoint, prefix='backbone.')
    backbone = _backbone(upstream, str(checkpoint),
                         prefix=kind != 'swin' or scope == 'mmpretrain')
    if scope == 'mmdet':
        cfg = det_cfg(data / 'coco', tmp_path, backbone, channels)
    elif scope == 'mmpretrain':
        cfg = cls_cfg(data / 'imagenet', tmp_path, CLS_BASES[kind], backbone,
                      channels)
    else:
        base = SEG_BASES[kind]
        cfg = seg_cfg(data / 'ade', tmp_path, base, backbone, channels)
    return cfg, loaded


def assert_upstream_as_loaded(state: dict, loaded: dict) -> list:
    """Every upstream backbone tensor of a trained model's ``state`` (all
    but ``backbone.prompts``) equals the loaded checkpoint's; returns their
    keys."""
    upstream_keys = [k for k in state if k.startswith('backbone.') and
                     not k.startswith('backbone.prompts.')]
    assert upstream_keys
    for key in upstream_keys:
        # weights, BN running statistics and counters, exactly as loaded
        assert torch.equal(state[key], loaded[key]), key
    return upstream_keys


def train_frozen(name, data, tmp_path, prompt_cfg, hook, overrides=None):
    """Train Runner case ``name`` with ``prompt_cfg`` and ``hook`` (and
    ``overrides`` of :func:`build_case`); check that the loss is finite and the
    frozen backbone as loaded. Returns the Runner."""
    cfg, loaded = build_case(name, data, tmp_path, overrides)
    cfg.model.backbone.prompt_cfg = prompt_cfg
    runner = Runner.from_cfg(cfg)
    runner.register_hook(hook)
    runner.train()
    assert math.isfinite(runner.message_hub.get_scalar('train/loss').current())
    assert_upstream_as_loaded(runner.model.state_dict(), loaded)
    return runner
