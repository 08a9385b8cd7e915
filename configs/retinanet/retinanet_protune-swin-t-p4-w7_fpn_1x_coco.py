# Pro-tuning: frozen ImageNet-1k Swin-T with prompt blocks on each stage's
# tokens (the stage-0 prompt feeds stage 1 although FPN reads stages 1-3);
# FPN and head train with the recipe of configs/_base_/protune.py (AdamW,
# lr 1e-4, weight decay 0.05).
_base_ = [
    'mmdet::swin/retinanet_swin-t-p4-w7_fpn_1x_coco.py',
    '../_base_/protune.py'
]

model = dict(
    backbone=dict(
        type='ProTuneSwinTransformer',
        prompt_cfg=_base_.protune_prompt_cfg))

optim_wrapper = dict(_base_.protune_optim_wrapper, _delete_=True)
