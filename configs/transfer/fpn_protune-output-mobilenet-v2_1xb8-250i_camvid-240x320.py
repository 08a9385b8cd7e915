# CamVid track, design study of Pro-tuning on MobileNetV2 (selection split
# only): a prompt after each of the 7 layers computed from the layer's output
# it is added to (prompt_input='output') instead of its input.
_base_ = './fpn_full-mobilenet-v2_1xb8-250i_camvid-240x320.py'

model = dict(
    backbone=dict(
        type='ProTuneMobileNetV2',
        prompt_cfg=dict(type='ConvPromptBlock', prompt_input='output')))
