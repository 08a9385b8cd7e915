# Transfer benchmark, classification task, LoRA (rank 4) on every conv of the
# frozen ResNet-18 (its basic blocks have 3x3 convs only, besides the
# downsample 1x1s).
_base_ = './linear_protune-r18-w16_1xb16-500i_shapes-imagenet-64x64.py'

model = dict(
    backbone=dict(
        prompt_cfg=dict(
            _delete_=True, type='LoRA', targets=['conv1x1', 'conv3x3'])))
