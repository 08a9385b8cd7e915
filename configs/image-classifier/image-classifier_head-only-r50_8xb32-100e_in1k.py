# Head-only baseline: frozen ResNet-50 without prompts, Pro-tuning recipe.
_base_ = './image-classifier_protune-r50_8xb32-100e_in1k.py'

model = dict(backbone=dict(prompt_cfg=dict(stages=[])))
