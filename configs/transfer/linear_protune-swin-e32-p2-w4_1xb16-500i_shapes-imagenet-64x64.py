# Transfer benchmark, classification task, Pro-tuning: the pretrained small
# Swin frozen, a TokenPromptBlock (hidden width 64) at the end of each stage;
# prompts and the linear head train.
_base_ = './linear_full-swin-e32-p2-w4_1xb16-500i_shapes-imagenet-64x64.py'

model = dict(
    backbone=dict(
        type='ProTuneSwinTransformer',
        prompt_cfg=dict(type='TokenPromptBlock')))
