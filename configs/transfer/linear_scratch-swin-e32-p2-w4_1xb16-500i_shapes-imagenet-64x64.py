# Transfer benchmark reference without transfer, classification task: the
# small Swin trains whole from a random initialisation, with the schedule of
# every other method.
_base_ = './linear_full-swin-e32-p2-w4_1xb16-500i_shapes-imagenet-64x64.py'

model = dict(backbone=dict(init_cfg=None))
