# Pro-tuning: frozen ImageNet ResNet-50-V1c (open-mmlab://resnet50_v1c, the
# upstream config's weights) with prompt blocks; UPerHead and the auxiliary
# FCN head train. Optimiser: AdamW, lr 3e-4, weight decay 0.05, linear warm-up
# then poly decay to 0 (the schedule of mmseg's Swin configs), a higher lr than
# full fine-tuning because only the new parameters train.
# Single process (no SyncBN process group): the Runner turns SyncBN into BN
# itself; see the README for the override when a model is built by hand.
_base_ = 'mmseg::upernet/upernet_r50_4xb4-160k_ade20k-512x512.py'
custom_imports = dict(imports=['mmprotune'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        type='ProTuneResNetV1c',
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
        type='AdamW', lr=3e-4, betas=(0.9, 0.999), weight_decay=0.05))
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
        end=1500),
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=1.0,
        begin=1500,
        end=160000,
        by_epoch=False)
]
