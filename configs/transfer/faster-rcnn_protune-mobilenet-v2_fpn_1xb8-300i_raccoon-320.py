# Raccoon track, Pro-tuning: the ImageNet MobileNetV2 frozen, a
# ConvPromptBlock (hidden width 64) after each of its layers 3-7 (stages 2-6,
# the CamVid design study's choice for this backbone:
# docs/transfer_benchmark.md), computed from the layer's input and added to
# its output; prompts, the FPN, RPN and RoI head train. prompt_input is the
# default, spelled out so that the benchmark's records are keyed by it.
_base_ = './faster-rcnn_full-mobilenet-v2_fpn_1xb8-300i_raccoon-320.py'

model = dict(
    backbone=dict(
        type='ProTuneMobileNetV2',
        prompt_cfg=dict(
            type='ConvPromptBlock',
            prompt_input='input',
            stages=[2, 3, 4, 5, 6])))
