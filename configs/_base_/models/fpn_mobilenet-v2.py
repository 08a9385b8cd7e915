# Semantic FPN on MobileNetV2 (mmseg's, width 1.0, output stride 32): the
# outputs of layers 2, 3, 5 and 7 (24/32/96/320 channels at strides 4, 8, 16
# and 32) into a 64-channel FPN and FPNHead, no auxiliary head. 64 channels,
# not mmseg's 256/128, so that the head does not dominate a frozen-backbone
# step (batch 8, 240 x 320, one thread): a head-only step takes 0.93 s, of
# which the backbone forward 0.44 s; with 128 channels 1.83 s. The backbone
# loads the ImageNet weights the transfer benchmark writes to its init_cfg.
_base_ = 'mmseg::_base_/models/fpn_r50.py'

norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    pretrained=None,
    data_preprocessor=dict(size=(240, 320)),
    backbone=dict(
        _delete_=True,
        type='MobileNetV2',
        widen_factor=1.0,
        out_indices=(1, 2, 4, 6),
        norm_cfg=norm_cfg,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/transfer-camvid/'
            'mobilenet-v2_imagenet-mmseg.pth')),
    neck=dict(in_channels=[24, 32, 96, 320], out_channels=64),
    decode_head=dict(
        in_channels=[64, 64, 64, 64],
        channels=64,
        num_classes=11,
        norm_cfg=norm_cfg))
