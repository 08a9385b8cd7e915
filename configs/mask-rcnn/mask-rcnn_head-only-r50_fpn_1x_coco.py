# Head-only baseline (the lower bound): the same frozen ResNet-50 as
# Pro-tuning but without prompt blocks; FPN and heads train with the same
# recipe as Pro-tuning.
_base_ = './mask-rcnn_protune-r50_fpn_1x_coco.py'

model = dict(backbone=dict(prompt_cfg=dict(stages=[])))
