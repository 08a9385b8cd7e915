# Transfer benchmark, classification task, LoRA (rank 4) on qkv, proj and the
# FFN linears of the frozen small Swin.
_base_ = './linear_protune-swin-e32-p2-w4_1xb16-500i_shapes-imagenet-64x64.py'

model = dict(backbone=dict(prompt_cfg=dict(_delete_=True, type='LoRA')))
