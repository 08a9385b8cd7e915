# Swin track, LoRA (rank 4) with its Swin default targets: the attention qkv
# and output projections and the FFN linears of every block.
_base_ = './fcn_protune-swin-e32-p2-w4_1xb16-500i_shapes-ade20k-64x64.py'

model = dict(backbone=dict(prompt_cfg=dict(_delete_=True, type='LoRA')))
