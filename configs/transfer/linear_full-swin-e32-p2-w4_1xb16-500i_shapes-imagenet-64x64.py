# Transfer benchmark, classification task, full fine-tuning on the small Swin
# Transformer of fcn_swin-e32-p2-w4.py as mmpretrain's SwinTransformer (the
# same weights under the same names): patch size 2, three stages of 2 blocks
# (channels 32/64/128, heads 1/2/4) at strides 2, 4 and 8, 4 x 4 windows; the
# linear head reads its pooled last stage (with its output norm). The Swin's
# own weights take 0.1x the lr (1e-2 diverges), everything new the lr.
_base_ = './linear_full-r18-w16_1xb16-500i_shapes-imagenet-64x64.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='SwinTransformer',
        arch=dict(embed_dims=32, depths=(2, 2, 2), num_heads=(1, 2, 4)),
        img_size=64,
        patch_size=2,
        window_size=4,
        out_indices=(2, ),
        drop_path_rate=0.0,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/transfer-swin-cls/'
            'swin-e32-p2-w4_count-600i-4000img.pth')),
    head=dict(in_channels=128))
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            'backbone': dict(lr_mult=0.1),
            'backbone.prompts': dict(lr_mult=1.0)
        }))
