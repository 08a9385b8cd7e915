# Transfer benchmark, classification task, Pro-tuning: the pretrained small
# Swin frozen, a TokenPromptBlock (hidden width 64) per stage, computed from
# the tokens entering the stage and added to its output tokens; prompts and
# the linear head train. prompt_input is the default, spelled out so that the
# benchmark's records are keyed by it.
_base_ = './linear_full-swin-e32-p2-w4_1xb16-500i_shapes-imagenet-64x64.py'

model = dict(
    backbone=dict(
        type='ProTuneSwinTransformer',
        prompt_cfg=dict(type='TokenPromptBlock', prompt_input='input')))
