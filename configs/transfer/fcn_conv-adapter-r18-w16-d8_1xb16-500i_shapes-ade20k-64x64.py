# Transfer benchmark, Conv-Adapter (reduction 4, 3x3) parallel to each
# residual block of the frozen ResNet-18.
_base_ = './fcn_protune-r18-w16-d8_1xb16-500i_shapes-ade20k-64x64.py'

model = dict(
    backbone=dict(prompt_cfg=dict(_delete_=True, type='ConvAdapter')))
