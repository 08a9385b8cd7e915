# Head-only baseline: frozen ResNet-50-V1c without prompts, Pro-tuning recipe.
_base_ = './upernet_protune-r50_4xb4-160k_ade20k-512x512.py'

model = dict(backbone=dict(prompt_cfg=dict(stages=[])))
