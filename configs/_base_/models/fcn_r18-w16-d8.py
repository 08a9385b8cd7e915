# FCN on a dilated (output stride 8), narrow ResNet-18: base width 16
# (channels 16/32/64/128), a light FCN head on the last stage only. The
# backbone is pretrained by tools/misc/pretrain_backbone.py (see
# tools/benchmark_transfer.py, which writes the checkpoint).
_base_ = 'mmseg::_base_/models/fcn_r50-d8.py'

norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    pretrained=None,
    data_preprocessor=dict(size=(64, 64)),
    backbone=dict(
        type='ResNet',
        depth=18,
        stem_channels=16,
        base_channels=16,
        norm_cfg=norm_cfg,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/transfer/resnet18-w16_count-1000i-4000img.pth')),
    decode_head=dict(
        in_channels=128,
        channels=64,
        num_convs=1,
        concat_input=False,
        num_classes=4,
        norm_cfg=norm_cfg),
    auxiliary_head=None)
