# Pro-tuning: the frozen ImageNet-1k Swin-T of the full fine-tuning config
# (mmpretrain's swin-tiny_16xb64_in1k release) with prompt blocks on each
# stage's tokens; a new linear head trains. Upstream recipe: mmpretrain's
# swin-tiny_16xb64_in1k (batch 16x64, 300 epochs, 20 warm-up epochs + cosine,
# Mixup/CutMix, label smoothing) with the optimiser of
# configs/_base_/protune.py (AdamW, weight decay 0.05) at the upstream lr 1e-3
# (without its gradient clipping and per-parameter decay rules, which concern
# the frozen backbone).
_base_ = [
    './image-classifier_full-swin-t-p4-w7_16xb64-300e_in1k.py',
    '../_base_/protune.py'
]

model = dict(
    backbone=dict(
        type='ProTuneSwinTransformer', prompt_cfg=_base_.protune_prompt_cfg))

optim_wrapper = dict(
    _base_.protune_optim_wrapper,
    _delete_=True,
    optimizer=dict(_base_.protune_optim_wrapper.optimizer, lr=1e-3))
