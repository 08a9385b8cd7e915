# CamVid track, design study of Pro-tuning on MobileNetV2 (selection split
# only): a prompt after every inverted residual block of each of the 7 layers
# (17 in all; placement='block', the last block's is the layer end's) instead
# of one at each layer end; computed from the block's input.
_base_ = './fpn_full-mobilenet-v2_1xb8-250i_camvid-240x320.py'

model = dict(
    backbone=dict(
        type='ProTuneMobileNetV2',
        prompt_cfg=dict(
            type='ConvPromptBlock', prompt_input='input',
            placement='block')))
