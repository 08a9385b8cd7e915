# Transfer benchmark, LoRA (rank 4) on every conv of the frozen ResNet-18
# (its basic blocks have 3x3 convs only, besides the downsample 1x1s).
_base_ = './fcn_protune-r18-w16-d8_1xb16-500i_shapes-ade20k-64x64.py'

model = dict(
    backbone=dict(
        prompt_cfg=dict(
            _delete_=True, type='LoRA', targets=['conv1x1', 'conv3x3'])))
