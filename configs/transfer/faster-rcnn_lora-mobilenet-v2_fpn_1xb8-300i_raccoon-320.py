# Raccoon track, LoRA (rank 4) on the 1x1 convs of the frozen ImageNet
# MobileNetV2: each inverted residual block's expansion and projection (its
# depth-wise 3x3 convs have no weight matrix to update at low rank).
_base_ = './faster-rcnn_protune-mobilenet-v2_fpn_1xb8-300i_raccoon-320.py'

model = dict(
    backbone=dict(
        prompt_cfg=dict(_delete_=True, type='LoRA', targets=['conv1x1'])))
