# Transfer benchmark, classification task, BitFit: the frozen ResNet-18's BN
# shifts get trainable offsets; they and the linear head train.
_base_ = './linear_protune-r18-w16_1xb16-500i_shapes-imagenet-64x64.py'

model = dict(backbone=dict(prompt_cfg=dict(_delete_=True, type='BitFit')))
