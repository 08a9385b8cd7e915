# Head-only baseline: frozen Swin-T without prompts, Pro-tuning recipe.
_base_ = './retinanet_protune-swin-t-p4-w7_fpn_1x_coco.py'

model = dict(backbone=dict(prompt_cfg=dict(stages=[])))
