# Head-only baseline: frozen Swin-T without prompts, Pro-tuning recipe.
_base_ = './upernet_protune-swin-t-p4-w7_8xb2-160k_ade20k-512x512.py'

model = dict(backbone=dict(prompt_cfg=dict(stages=[])))
