# Transfer benchmark, classification task, head-only: the pretrained
# ResNet-18 frozen, no prompts; only the linear head trains.
_base_ = './linear_full-r18-w16_1xb16-500i_shapes-imagenet-64x64.py'

model = dict(
    backbone=dict(
        type='ProTuneResNet',
        prompt_cfg=dict(type='ConvPromptBlock', stages=[])))
