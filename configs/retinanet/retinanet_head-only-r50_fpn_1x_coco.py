# Head-only baseline: frozen ResNet-50 without prompts, Pro-tuning recipe.
_base_ = './retinanet_protune-r50_fpn_1x_coco.py'

model = dict(backbone=dict(prompt_cfg=dict(stages=[])))
