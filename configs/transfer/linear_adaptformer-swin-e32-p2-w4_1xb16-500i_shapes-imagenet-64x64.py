# Transfer benchmark, classification task, AdaptFormer (hidden 64, scale 0.1)
# parallel to each FFN of the frozen small Swin.
_base_ = './linear_protune-swin-e32-p2-w4_1xb16-500i_shapes-imagenet-64x64.py'

model = dict(backbone=dict(prompt_cfg=dict(_delete_=True, type='AdaptFormer')))
