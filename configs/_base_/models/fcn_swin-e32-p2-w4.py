# FCN on a small Swin Transformer made for 64 px images: patch size 2, three
# stages of 2 blocks (channels 32/64/128, heads 1/2/4) at strides 2, 4 and 8,
# 4 x 4 windows (mmseg ``SwinTransformer``), and the light FCN head of
# fcn_r18-w16-d8.py on the stride-8 last stage (with its output norm). The
# backbone is pretrained by tools/misc/pretrain_backbone.py --arch swin (its
# SWIN_ARCH; see tools/benchmark_transfer.py --backbone swin, which writes
# the checkpoint).
_base_ = './fcn_r18-w16-d8.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='SwinTransformer',
        pretrain_img_size=64,
        embed_dims=32,
        patch_size=2,
        window_size=4,
        depths=(2, 2, 2),
        num_heads=(1, 2, 4),
        strides=(2, 2, 2),
        out_indices=(2, ),
        drop_path_rate=0.0,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/transfer-swin/'
            'swin-e32-p2-w4_count-600i-4000img.pth')),
    decode_head=dict(in_channels=128, in_index=0))
