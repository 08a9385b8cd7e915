# Transfer benchmark, classification task, Mona (hidden 64) after attention
# and after the FFN of the frozen small Swin.
_base_ = './linear_protune-swin-e32-p2-w4_1xb16-500i_shapes-imagenet-64x64.py'

model = dict(backbone=dict(prompt_cfg=dict(_delete_=True, type='Mona')))
