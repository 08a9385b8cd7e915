# mmpretrain ImageClassifier on a narrow ResNet-18: base width 16 (channels
# 16/32/64/128, output stride 32: 2 x 2 at 64 px), global average pooling and
# a linear head over the 3 shape classes. The backbone is the one of
# fcn_r18-w16-d8.py without the dilation, pretrained by
# tools/misc/pretrain_backbone.py (see tools/benchmark_transfer.py --task
# cls, which writes the checkpoint).
_base_ = 'mmpretrain::_base_/models/resnet18.py'

model = dict(
    # the ImageNet statistics (RGB) of the pretraining
    data_preprocessor=dict(
        num_classes=3,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        stem_channels=16,
        base_channels=16,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/transfer-cls/'
            'resnet18-w16_count-1000i-4000img.pth')),
    head=dict(num_classes=3, in_channels=128, topk=(1, )))
