# Transfer benchmark, classification task, Pro-tuning: the pretrained
# ResNet-18 frozen, a ConvPromptBlock (hidden width 64) at the end of each
# stage; prompts and the linear head train.
_base_ = './linear_full-r18-w16_1xb16-500i_shapes-imagenet-64x64.py'

model = dict(
    backbone=dict(
        type='ProTuneResNet', prompt_cfg=dict(type='ConvPromptBlock')))
