# Transfer benchmark reference without transfer: the ResNet-18 trains whole
# from a random initialisation, with the schedule of every other method.
_base_ = './fcn_full-r18-w16-d8_1xb16-500i_shapes-ade20k-64x64.py'

model = dict(backbone=dict(init_cfg=None))
