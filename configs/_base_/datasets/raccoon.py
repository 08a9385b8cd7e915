# The raccoon detection set (one class; github.com/datitran/raccoon_dataset:
# images/, annotations/ in Pascal VOC XML, data/{train,test}_labels.csv the
# 160/40 split). Convert its XML to COCO JSON first:
#   python tools/dataset_converters/raccoon.py data/raccoon data/raccoon/coco
# Reduced resolution for 2-core CPUs: images (178-2000 px wide) are resized
# to at most 320 x 320. The metric is COCO box AP (mmdet's CocoMetric) against
# the ground truth the test pipeline carries (``instances``), not a file: it
# is right for any subset of a split (``indices``), which the transfer
# benchmark evaluates on.
dataset_type = 'CocoDataset'
data_root = 'data/raccoon'
metainfo = dict(classes=('raccoon', ), palette=[(220, 20, 60)])
scale = (320, 320)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor', 'instances'))
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    batch_sampler=None,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='coco/train.json',
        data_prefix=dict(img='images/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=1),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='coco/test.json',
        data_prefix=dict(img='images/'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
# mmdet's CocoMetric, with box AP 0 where nothing is detected (mmdet's
# returns no results then)
val_evaluator = dict(type='EmptyAwareCocoMetric', metric='bbox')
test_evaluator = val_evaluator
