# Transfer benchmark, classification task, Pro-tuning: the pretrained
# ResNet-18 frozen, a ConvPromptBlock (hidden width 64) per stage, computed
# from the stage's input and added to its output; prompts and the linear head
# train. prompt_input is the default, spelled out so that the benchmark's
# records are keyed by it.
_base_ = './linear_full-r18-w16_1xb16-500i_shapes-imagenet-64x64.py'

model = dict(
    backbone=dict(
        type='ProTuneResNet',
        prompt_cfg=dict(type='ConvPromptBlock', prompt_input='input')))
