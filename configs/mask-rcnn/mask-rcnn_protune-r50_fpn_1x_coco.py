# Pro-tuning: ImageNet ResNet-50 (torchvision weights of the upstream config)
# frozen; prompt blocks after each stage, FPN and heads train.
# Optimiser: AdamW, lr 1e-4, weight decay 0.05: the recipe of mmdet's own Swin
# Mask R-CNN COCO configs, applied to the trained parameters only.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
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
