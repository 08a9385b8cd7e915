# Transfer benchmark, head-only: the pretrained ResNet-18 frozen, no prompts;
# only the FCN head trains.
_base_ = './fcn_full-r18-w16-d8_1xb16-500i_shapes-ade20k-64x64.py'

model = dict(
    backbone=dict(
        type='ProTuneResNet',
        prompt_cfg=dict(type='ConvPromptBlock', stages=[])))
