# Design study of the Pro-tuning block (selection split only): the default
# block with multi-scale depth-wise kernels, 3x3, 5x5 and 7x7 side by side,
# averaged.
_base_ = './fcn_protune-r18-w16-d8_1xb16-500i_shapes-ade20k-64x64.py'

model = dict(backbone=dict(prompt_cfg=dict(kernel_size=(3, 5, 7))))
