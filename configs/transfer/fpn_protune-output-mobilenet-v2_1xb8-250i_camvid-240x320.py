# CamVid track, design study of Pro-tuning on MobileNetV2 (selection split
# only): each layer's prompt computed from the layer's output it is added to
# (prompt_input='output') instead of its input.
_base_ = './fpn_protune-mobilenet-v2_1xb8-250i_camvid-240x320.py'

model = dict(backbone=dict(prompt_cfg=dict(prompt_input='output')))
