# Pro-tuning: frozen ImageNet-1k Swin-T (mmseg's converted release, as the
# upstream config) with prompt blocks on each stage's tokens; UPerHead and
# the auxiliary head train. Optimiser: AdamW, lr 3e-4, weight decay 0.05 with
# the upstream warm-up + poly schedule.
_base_ = ('mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_'
          '8xb2-160k_ade20k-512x512.py')
custom_imports = dict(imports=['mmprotune'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        type='ProTuneSwinTransformer',
        prompt_cfg=dict(
            type='TokenPromptBlock',
            stages=(0, 1, 2, 3),
            hidden_channels=64,
            kernel_size=3)))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    constructor='ProTuneOptimWrapperConstructor',
    optimizer=dict(
        type='AdamW', lr=3e-4, betas=(0.9, 0.999), weight_decay=0.05))
