# Swin track, VPT-deep (10 prompt tokens per block, zero-initialised gated
# prompt attention): every block of the frozen small Swin attends to its own
# prompt tokens.
_base_ = './fcn_protune-swin-e32-p2-w4_1xb16-500i_shapes-ade20k-64x64.py'

model = dict(backbone=dict(prompt_cfg=dict(_delete_=True, type='VPT')))
