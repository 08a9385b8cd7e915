# Transfer benchmark, BitFit: the frozen ResNet-18's BN shifts get trainable
# offsets; they and the FCN head train.
_base_ = './fcn_protune-r18-w16-d8_1xb16-500i_shapes-ade20k-64x64.py'

model = dict(backbone=dict(prompt_cfg=dict(_delete_=True, type='BitFit')))
