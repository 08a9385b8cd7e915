# Faster R-CNN on MobileNetV2 (mmdet's, width 1.0): the outputs of layers 3
# and 5 and of the last 1x1 conv (32/96/1280 channels at strides 8, 16 and
# 32; mmdet computes that conv whatever is used) into a 64-channel FPN
# with a max-pooled fourth level (stride 64); RPN and a two-fc RoI head (256
# wide) for one class. Light for 2-core CPUs, where COCO's 256-channel FPN
# on strides 4-64 and 1024-wide fcs would make the head most of a
# frozen-backbone step; anchors of 32-256 px suit images resized to at most
# 320 px. RoIAlign with 2 x 2 samples per bin (0, mmdet's adaptive count,
# made RoIAlign's CPU backward most of a head-only step) on 128 RoIs per
# image. The backbone loads the ImageNet weights the transfer benchmark
# writes to its init_cfg.
_base_ = 'mmdet::_base_/models/faster-rcnn_r50_fpn.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='MobileNetV2',
        widen_factor=1.0,
        out_indices=(2, 4, 7),
        norm_cfg=dict(type='BN', requires_grad=True),
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/transfer-raccoon/'
            'mobilenet-v2_imagenet-mmdet.pth')),
    neck=dict(in_channels=[32, 96, 1280], out_channels=64, num_outs=4),
    rpn_head=dict(
        in_channels=64,
        feat_channels=64,
        anchor_generator=dict(scales=[4], strides=[8, 16, 32, 64])),
    roi_head=dict(
        bbox_roi_extractor=dict(
            roi_layer=dict(sampling_ratio=2),
            out_channels=64,
            featmap_strides=[8, 16, 32, 64]),
        bbox_head=dict(in_channels=64, fc_out_channels=256, num_classes=1)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=1000, max_per_img=500),
        rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(
        rpn=dict(nms_pre=500, max_per_img=300),
        rcnn=dict(max_per_img=50)))
