# Pro-tuning: frozen ImageNet ResNet-50 (mmpretrain's resnet50_8xb32_in1k
# release, the model-zoo weights of the upstream config) with prompt blocks
# after each stage; a new linear head trains. Upstream recipe: mmpretrain's
# resnet50_8xb32_in1k (batch 8x32, 100 epochs, lr steps at 30/60/90) with the
# optimiser of configs/_base_/protune.py (AdamW, weight decay 0.05) at lr
# 1e-3, the AdamW lr of mmpretrain's Swin ImageNet recipe.
_base_ = [
    'mmpretrain::resnet/resnet50_8xb32_in1k.py', '../_base_/protune.py'
]

checkpoint = ('https://download.openmmlab.com/mmclassification/v0/resnet/'
              'resnet50_8xb32_in1k_20210831-ea4938fc.pth')
model = dict(
    backbone=dict(
        type='ProTuneResNet',
        prompt_cfg=_base_.protune_prompt_cfg,
        init_cfg=dict(
            type='Pretrained', checkpoint=checkpoint, prefix='backbone')))

optim_wrapper = dict(
    _base_.protune_optim_wrapper,
    _delete_=True,
    optimizer=dict(_base_.protune_optim_wrapper.optimizer, lr=1e-3))
