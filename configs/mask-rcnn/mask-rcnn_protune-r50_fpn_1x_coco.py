# Pro-tuning: ImageNet ResNet-50 (torchvision weights of the upstream config)
# frozen; prompt blocks after each stage, FPN and heads train, with the
# recipe of configs/_base_/protune.py (AdamW, lr 1e-4, weight decay 0.05: the
# recipe of mmdet's own Swin Mask R-CNN COCO configs).
_base_ = [
    'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
    '../_base_/protune.py'
]

model = dict(
    backbone=dict(type='ProTuneResNet', prompt_cfg=_base_.protune_prompt_cfg))

optim_wrapper = dict(_base_.protune_optim_wrapper, _delete_=True)
