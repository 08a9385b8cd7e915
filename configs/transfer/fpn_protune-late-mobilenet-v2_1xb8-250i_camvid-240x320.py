# CamVid track, design study of Pro-tuning on MobileNetV2 (selection split
# only): prompts after layers 3-7 only (stages 2-6), none after layers 1 and
# 2, whose outputs (strides 2 and 4) are the largest maps; the frozen-aware
# backward keeps nothing for the layers before the first prompt.
_base_ = './fpn_protune-mobilenet-v2_1xb8-250i_camvid-240x320.py'

model = dict(backbone=dict(prompt_cfg=dict(stages=[2, 3, 4, 5, 6])))
