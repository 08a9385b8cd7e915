# Swin track, Mona (hidden width 64) after the attention and after the FFN of
# every block of the frozen small Swin.
_base_ = './fcn_protune-swin-e32-p2-w4_1xb16-500i_shapes-ade20k-64x64.py'

model = dict(backbone=dict(prompt_cfg=dict(_delete_=True, type='Mona')))
