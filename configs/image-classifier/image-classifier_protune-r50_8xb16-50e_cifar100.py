# Small-data transfer: CIFAR-100 fine-tuning of the frozen ImageNet ResNet-50
# of image-classifier_protune-r50_8xb32-100e_in1k.py with Pro-tuning, written
# like mmpretrain's fine-tuning configs: the ImageNet ResNet-50 model, a
# 100-class head, mmpretrain's CIFAR-100 data (batch 8x16), each 32x32 image
# resized to 224x224 (bicubic) after the usual crop/flip so that the
# ImageNet-scale features apply, and ImageNet's mean/std (the backbone's;
# CIFAR arrays are RGB already). Optimiser: configs/_base_/protune.py (AdamW,
# weight decay 0.05) at lr 1e-3, 50 epochs with a cosine decay (a fine-tuning
# budget, a quarter of mmpretrain's 200-epoch from-scratch CIFAR recipe).
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    'mmpretrain::_base_/datasets/cifar100_bs16.py',
    'mmpretrain::_base_/default_runtime.py', '../_base_/protune.py'
]

checkpoint = ('https://download.openmmlab.com/mmclassification/v0/resnet/'
              'resnet50_8xb32_in1k_20210831-ea4938fc.pth')
model = dict(
    backbone=dict(
        type='ProTuneResNet',
        prompt_cfg=_base_.protune_prompt_cfg,
        init_cfg=dict(
            type='Pretrained', checkpoint=checkpoint, prefix='backbone')),
    head=dict(num_classes=100))

data_preprocessor = dict(
    num_classes=100,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=False)

train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='Resize', scale=224, interpolation='bicubic'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='Resize', scale=224, interpolation='bicubic'),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(
    _base_.protune_optim_wrapper,
    optimizer=dict(_base_.protune_optim_wrapper.optimizer, lr=1e-3))
param_scheduler = dict(type='CosineAnnealingLR', by_epoch=True, T_max=50)

train_cfg = dict(by_epoch=True, max_epochs=50, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=128)
