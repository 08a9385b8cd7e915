# Pro-tuning demo: Faster R-CNN on a frozen, pretrained ResNet-18 with
# prompt blocks (the only trainable backbone parameters), FPN and heads
# trained from scratch, on the synthetic 128 px "shapes" COCO set. Sized to
# train in about 5 minutes on a 2-core CPU (tools/demo.py).
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py',
    '../_base_/datasets/shapes-coco_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py'
]
custom_imports = dict(imports=['mmprotune'], allow_failed_imports=False)

# CPU-sized neck and heads: 128 FPN channels, 64 sampled RoIs per image
channels = 128
model = dict(
    backbone=dict(
        type='ProTuneResNet',
        depth=18,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/demo/resnet18_shapes-pretrain.pth')),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=channels),
    rpn_head=dict(in_channels=channels, feat_channels=channels),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=channels),
        bbox_head=dict(
            in_channels=channels, fc_out_channels=512, num_classes=3)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=1000, max_per_img=300),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=300)))

# this detector has no mask branch
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale={{_base_.img_scale}}, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale={{_base_.img_scale}}, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(metric='bbox')
test_evaluator = val_evaluator

# 300 iterations (8 epochs of 300 images), validation and a checkpoint at the
# end; AdamW on the prompts, neck and heads (the frozen backbone has no
# trainable parameters besides the prompts)
max_iters = 300
train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(
        type='CosineAnnealingLR',
        by_epoch=False,
        begin=0,
        end=max_iters,
        eta_min_ratio=0.01)
]
optim_wrapper = dict(
    constructor='ProTuneOptimWrapperConstructor',
    optimizer=dict(_delete_=True, type='AdamW', lr=1e-3, weight_decay=0.05))
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(by_epoch=False, interval=max_iters))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
