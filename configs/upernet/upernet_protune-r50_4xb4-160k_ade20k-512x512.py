# Pro-tuning: frozen ImageNet ResNet-50-V1c (open-mmlab://resnet50_v1c, the
# upstream config's weights) with prompt blocks; UPerHead and the auxiliary
# FCN head train. Optimiser: the recipe of configs/_base_/protune.py (AdamW,
# weight decay 0.05) with lr 3e-4, linear warm-up then poly decay to 0 (the
# schedule of mmseg's Swin configs), a higher lr than full fine-tuning because
# only the new parameters train.
# Single process (no SyncBN process group): the Runner turns SyncBN into BN
# itself; see docs/troubleshooting.md for the override when a model is built
# by hand.
_base_ = [
    'mmseg::upernet/upernet_r50_4xb4-160k_ade20k-512x512.py',
    '../_base_/protune.py'
]

model = dict(
    backbone=dict(
        type='ProTuneResNetV1c', prompt_cfg=_base_.protune_prompt_cfg))

optim_wrapper = dict(
    _base_.protune_optim_wrapper,
    _delete_=True,
    optimizer=dict(_base_.protune_optim_wrapper.optimizer, lr=3e-4))
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
