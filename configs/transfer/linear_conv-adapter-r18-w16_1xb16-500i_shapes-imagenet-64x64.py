# Transfer benchmark, classification task, Conv-Adapter (reduction 4, 3x3)
# parallel to each residual block of the frozen ResNet-18.
_base_ = './linear_protune-r18-w16_1xb16-500i_shapes-imagenet-64x64.py'

model = dict(
    backbone=dict(prompt_cfg=dict(_delete_=True, type='ConvAdapter')))
