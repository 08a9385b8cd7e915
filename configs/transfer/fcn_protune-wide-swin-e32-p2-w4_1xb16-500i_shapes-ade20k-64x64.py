# Design study of the Pro-tuning block (selection split only): the default
# block with twice the hidden width (128 instead of 64).
_base_ = './fcn_protune-swin-e32-p2-w4_1xb16-500i_shapes-ade20k-64x64.py'

model = dict(backbone=dict(prompt_cfg=dict(hidden_channels=128)))
