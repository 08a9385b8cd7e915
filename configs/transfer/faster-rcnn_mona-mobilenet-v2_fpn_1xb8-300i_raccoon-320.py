# Raccoon track, Mona (hidden width 64) after each inverted residual block of
# the frozen ImageNet MobileNetV2.
_base_ = './faster-rcnn_protune-mobilenet-v2_fpn_1xb8-300i_raccoon-320.py'

model = dict(backbone=dict(prompt_cfg=dict(_delete_=True, type='Mona')))
