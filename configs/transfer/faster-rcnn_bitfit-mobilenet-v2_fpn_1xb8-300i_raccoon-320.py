# Raccoon track, BitFit: the frozen ImageNet MobileNetV2's BN shifts (the
# expansion, depth-wise and projection BNs of each inverted residual block)
# get trainable offsets; they, the FPN, RPN and RoI head train.
_base_ = './faster-rcnn_protune-mobilenet-v2_fpn_1xb8-300i_raccoon-320.py'

model = dict(backbone=dict(prompt_cfg=dict(_delete_=True, type='BitFit')))
