# Pro-tuning: the frozen ImageNet ResNet-50 of the full fine-tuning config
# (mmpretrain's resnet50_8xb32_in1k release) with prompt blocks after each
# stage; a new linear head trains. Upstream recipe: mmpretrain's
# resnet50_8xb32_in1k (batch 8x32, 100 epochs, lr steps at 30/60/90) with the
# optimiser of configs/_base_/protune.py (AdamW, weight decay 0.05) at lr
# 1e-3, the AdamW lr of mmpretrain's Swin ImageNet recipe.
_base_ = [
    './image-classifier_full-r50_8xb32-100e_in1k.py', '../_base_/protune.py'
]

model = dict(
    backbone=dict(type='ProTuneResNet', prompt_cfg=_base_.protune_prompt_cfg))

optim_wrapper = dict(
    _base_.protune_optim_wrapper,
    _delete_=True,
    optimizer=dict(_base_.protune_optim_wrapper.optimizer, lr=1e-3))
