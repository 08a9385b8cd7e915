# CamVid track, Mona (hidden width 64) after each inverted residual block of
# the frozen ImageNet MobileNetV2.
_base_ = './fpn_protune-mobilenet-v2_1xb8-250i_camvid-240x320.py'

model = dict(backbone=dict(prompt_cfg=dict(_delete_=True, type='Mona')))
