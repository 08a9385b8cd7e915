# Pro-tuning: frozen ImageNet-1k Swin-T with prompt blocks on each stage's
# tokens (the stage-0 prompt feeds stage 1 although FPN reads stages 1-3);
# FPN and head train with AdamW, lr 1e-4, weight decay 0.05.
_base_ = 'mmdet::swin/retinanet_swin-t-p4-w7_fpn_1x_coco.py'
custom_imports = dict(imports=['mmprotune'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        type='ProTuneSwinTransformer',
        prompt_cfg=dict(
            type='TokenPromptBlock',
            stages=(0, 1, 2, 3),
            hidden_channels=64,
            kernel_size=3)))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    constructor='ProTuneOptimWrapperConstructor',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05))
