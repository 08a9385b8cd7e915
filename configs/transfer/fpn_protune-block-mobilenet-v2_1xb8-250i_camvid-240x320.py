# CamVid track, design study of Pro-tuning on MobileNetV2 (selection split
# only): a prompt after every inverted residual block of each layer (17 in
# all; placement='block', the last block's is the layer end's) instead of one
# at each layer end.
_base_ = './fpn_protune-mobilenet-v2_1xb8-250i_camvid-240x320.py'

model = dict(backbone=dict(prompt_cfg=dict(placement='block')))
