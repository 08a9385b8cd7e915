# Head-only baseline: the frozen Swin-T without prompt blocks; FPN and heads
# train with the Pro-tuning recipe.
_base_ = './mask-rcnn_protune-swin-t-p4-w7_fpn_1x_coco.py'

model = dict(backbone=dict(prompt_cfg=dict(stages=[])))
