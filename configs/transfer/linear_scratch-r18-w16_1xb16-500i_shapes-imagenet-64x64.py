# Transfer benchmark reference without transfer, classification task: the
# ResNet-18 trains whole from a random initialisation, with the schedule of
# every other method.
_base_ = './linear_full-r18-w16_1xb16-500i_shapes-imagenet-64x64.py'

model = dict(backbone=dict(init_cfg=None))
