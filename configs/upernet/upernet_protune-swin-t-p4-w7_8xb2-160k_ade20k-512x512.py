# Pro-tuning: frozen ImageNet-1k Swin-T (mmseg's converted release, as the
# upstream config) with prompt blocks on each stage's tokens; UPerHead and
# the auxiliary head train. Optimiser: the recipe of
# configs/_base_/protune.py (AdamW, weight decay 0.05) with lr 3e-4 and the
# upstream warm-up + poly schedule.
_base_ = [
    'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_'
    '8xb2-160k_ade20k-512x512.py',
    '../_base_/protune.py'
]

model = dict(
    backbone=dict(
        type='ProTuneSwinTransformer',
        prompt_cfg=_base_.protune_prompt_cfg))

optim_wrapper = dict(
    _base_.protune_optim_wrapper,
    _delete_=True,
    optimizer=dict(_base_.protune_optim_wrapper.optimizer, lr=3e-4))
