# Transfer benchmark, Pro-tuning: the pretrained ResNet-18 frozen, a
# ConvPromptBlock (hidden width 64) at the end of each stage; prompts and the
# FCN head train.
_base_ = './fcn_full-r18-w16-d8_1xb16-500i_shapes-ade20k-64x64.py'

model = dict(
    backbone=dict(
        type='ProTuneResNet', prompt_cfg=dict(type='ConvPromptBlock')))
