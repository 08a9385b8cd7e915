# Transfer benchmark, classification task, head-only: the pretrained small
# Swin frozen, no prompts; only the linear head trains.
_base_ = './linear_full-swin-e32-p2-w4_1xb16-500i_shapes-imagenet-64x64.py'

model = dict(
    backbone=dict(
        type='ProTuneSwinTransformer',
        prompt_cfg=dict(type='TokenPromptBlock', stages=[])))
