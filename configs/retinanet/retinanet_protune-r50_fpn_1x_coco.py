# Pro-tuning: frozen ImageNet ResNet-50 with prompt blocks; FPN and head train
# with the recipe of configs/_base_/protune.py (AdamW, lr 1e-4, weight decay
# 0.05, as the Mask R-CNN Pro-tuning configs).
_base_ = [
    'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
    '../_base_/protune.py'
]

model = dict(
    backbone=dict(type='ProTuneResNet', prompt_cfg=_base_.protune_prompt_cfg))

optim_wrapper = dict(_base_.protune_optim_wrapper, _delete_=True)
