# Pro-tuning: ImageNet-1k Swin-T (the official release the upstream config
# loads) frozen; prompt blocks on the token stream of each stage, FPN and
# heads train, with the recipe of configs/_base_/protune.py (AdamW, lr 1e-4,
# weight decay 0.05: mmdet's Swin recipe for COCO, kept for the trained
# parameters).
_base_ = [
    'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py',
    '../_base_/protune.py'
]

model = dict(
    backbone=dict(
        type='ProTuneSwinTransformer',
        prompt_cfg=_base_.protune_prompt_cfg))

optim_wrapper = dict(_base_.protune_optim_wrapper, _delete_=True)
