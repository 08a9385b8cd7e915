# Head-only baseline: frozen Swin-T without prompts, Pro-tuning recipe.
_base_ = './image-classifier_protune-swin-t-p4-w7_16xb64-300e_in1k.py'

model = dict(backbone=dict(prompt_cfg=dict(stages=[])))
