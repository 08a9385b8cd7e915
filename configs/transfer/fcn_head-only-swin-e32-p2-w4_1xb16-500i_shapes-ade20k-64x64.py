# Swin track, head-only: the pretrained small Swin frozen, no prompts; only
# the FCN head trains.
_base_ = './fcn_full-swin-e32-p2-w4_1xb16-500i_shapes-ade20k-64x64.py'

model = dict(
    backbone=dict(
        type='ProTuneSwinTransformer',
        prompt_cfg=dict(type='TokenPromptBlock', stages=[])))
