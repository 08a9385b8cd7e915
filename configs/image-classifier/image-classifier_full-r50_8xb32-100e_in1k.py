# Full fine-tuning reference: mmpretrain's own ResNet-50 ImageNet recipe
# unchanged (SGD lr 0.1 for 256 images per batch, 100 epochs; 76.55 top-1 in
# the mmpretrain model zoo), started from the same pretrained backbone as the
# Pro-tuning config.
_base_ = 'mmpretrain::resnet/resnet50_8xb32_in1k.py'

checkpoint = ('https://download.openmmlab.com/mmclassification/v0/resnet/'
              'resnet50_8xb32_in1k_20210831-ea4938fc.pth')
model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained', checkpoint=checkpoint, prefix='backbone')))
