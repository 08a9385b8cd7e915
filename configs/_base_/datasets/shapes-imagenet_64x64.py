# Synthetic "shapes" classification in ImageNet layout, written by
# mmprotune.datasets.make_imagenet_shapes: 64 x 64 images of one shape each,
# labelled with its class (circle, square, triangle); meta/{train,val}.txt
# list the images in the order they were drawn, so ``indices=N`` takes the
# first N.
dataset_type = 'CustomDataset'
data_root = 'data/shapes_imagenet/'
metainfo = dict(classes=('circle', 'square', 'triangle'))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs')
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
# 64 px images decode in well under a millisecond: worker processes would
# cost more than they save
train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='meta/train.txt',
        data_prefix='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='meta/val.txt',
        data_prefix='val',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator
