# CamVid track, BitFit: the frozen ImageNet MobileNetV2's BN shifts (the
# expansion, depth-wise and projection BNs of each inverted residual block)
# get trainable offsets; they, the FPN and its head train.
_base_ = './fpn_protune-mobilenet-v2_1xb8-250i_camvid-240x320.py'

model = dict(backbone=dict(prompt_cfg=dict(_delete_=True, type='BitFit')))
