# CamVid track, head-only: the ImageNet MobileNetV2 frozen, no prompts; only
# the FPN and its head train.
_base_ = './fpn_full-mobilenet-v2_1xb8-250i_camvid-240x320.py'

model = dict(
    backbone=dict(
        type='ProTuneMobileNetV2',
        prompt_cfg=dict(type='ConvPromptBlock', stages=[])))
