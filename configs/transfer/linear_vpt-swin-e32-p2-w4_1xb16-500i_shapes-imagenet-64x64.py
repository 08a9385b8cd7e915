# Transfer benchmark, classification task, VPT-deep, 10 prompt tokens per
# block of the frozen small Swin with zero-init gated prompt attention.
_base_ = './linear_protune-swin-e32-p2-w4_1xb16-500i_shapes-imagenet-64x64.py'

model = dict(backbone=dict(prompt_cfg=dict(_delete_=True, type='VPT')))
