# CamVid track, Pro-tuning: the ImageNet MobileNetV2 frozen, a ConvPromptBlock
# (hidden width 64) after each of its layers 3-7 (stages 2-6), computed from
# the layer's input and added to its output; prompts, the FPN and its head
# train. No prompts after layers 1 and 2, whose outputs (strides 2 and 4) are
# the largest maps: the frozen-aware backward keeps nothing for them. Chosen
# by the design study on CamVid's selection split over prompts after every
# layer (protune-all), from each layer's output (protune-output) and after
# every block (protune-block): docs/transfer_benchmark.md. prompt_input is
# the default, spelled out so that the benchmark's records are keyed by it.
_base_ = './fpn_full-mobilenet-v2_1xb8-250i_camvid-240x320.py'

model = dict(
    backbone=dict(
        type='ProTuneMobileNetV2',
        prompt_cfg=dict(
            type='ConvPromptBlock',
            prompt_input='input',
            stages=[2, 3, 4, 5, 6])))
