# Pro-tuning: frozen ImageNet ResNet-50 with prompt blocks; FPN and head train.
# Optimiser: AdamW, lr 1e-4, weight decay 0.05 (the PEFT recipe of the
# Mask R-CNN Pro-tuning configs).
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmprotune'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        type='ProTuneResNet',
        prompt_cfg=dict(
            type='ConvPromptBlock',
            stages=(0, 1, 2, 3),
            hidden_channels=64,
            kernel_size=3)))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    constructor='ProTuneOptimWrapperConstructor',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05))
