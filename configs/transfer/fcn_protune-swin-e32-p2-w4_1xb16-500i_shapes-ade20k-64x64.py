# Swin track, Pro-tuning: the pretrained small Swin frozen, a TokenPromptBlock
# (hidden width 64) on the tokens at the end of each stage; prompts and the
# FCN head train.
_base_ = './fcn_full-swin-e32-p2-w4_1xb16-500i_shapes-ade20k-64x64.py'

model = dict(
    backbone=dict(
        type='ProTuneSwinTransformer',
        prompt_cfg=dict(type='TokenPromptBlock')))
