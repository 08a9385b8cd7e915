# Raccoon track, head-only: the ImageNet MobileNetV2 frozen, no prompts; only
# the FPN, RPN and RoI head train.
_base_ = './faster-rcnn_full-mobilenet-v2_fpn_1xb8-300i_raccoon-320.py'

model = dict(
    backbone=dict(
        type='ProTuneMobileNetV2',
        prompt_cfg=dict(type='ConvPromptBlock', stages=[])))
