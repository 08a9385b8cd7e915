# Pro-tuning: frozen ImageNet-1k Swin-T (mmpretrain's swin-tiny_16xb64_in1k
# release, the model-zoo weights of the upstream config) with prompt blocks on
# each stage's tokens; a new linear head trains. Upstream recipe: mmpretrain's
# swin-tiny_16xb64_in1k (batch 16x64, 300 epochs, 20 warm-up epochs + cosine,
# Mixup/CutMix, label smoothing) with the optimiser of
# configs/_base_/protune.py (AdamW, weight decay 0.05) at the upstream lr 1e-3.
_base_ = [
    'mmpretrain::swin_transformer/swin-tiny_16xb64_in1k.py',
    '../_base_/protune.py'
]

checkpoint = ('https://download.openmmlab.com/mmclassification/v0/'
              'swin-transformer/'
              'swin_tiny_224_b16x64_300e_imagenet_'
              '20210616_090925-66df6be6.pth')
model = dict(
    backbone=dict(
        type='ProTuneSwinTransformer',
        prompt_cfg=_base_.protune_prompt_cfg,
        init_cfg=dict(
            type='Pretrained', checkpoint=checkpoint, prefix='backbone')))

optim_wrapper = dict(
    _base_.protune_optim_wrapper,
    _delete_=True,
    optimizer=dict(_base_.protune_optim_wrapper.optimizer, lr=1e-3))
