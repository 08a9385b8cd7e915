# Full fine-tuning reference: mmpretrain's own Swin-T ImageNet recipe
# unchanged (AdamW lr 1e-3 for 1024 images per batch, no decay on norms,
# biases and position tables, gradient clipping at 5, 300 epochs; 81.18 top-1
# in the mmpretrain model zoo), started from the same pretrained backbone as
# the Pro-tuning config.
_base_ = 'mmpretrain::swin_transformer/swin-tiny_16xb64_in1k.py'

checkpoint = ('https://download.openmmlab.com/mmclassification/v0/'
              'swin-transformer/'
              'swin_tiny_224_b16x64_300e_imagenet_'
              '20210616_090925-66df6be6.pth')
model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained', checkpoint=checkpoint, prefix='backbone')))
