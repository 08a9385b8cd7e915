# The Pro-tuning recipe of the benchmark configs (configs/mask-rcnn,
# configs/retinanet and configs/upernet, *_protune-*.py). A config lists it
# after its upstream base and picks the two settings below:
#
#   _base_ = ['mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
#             '../_base_/protune.py']
#   model = dict(backbone=dict(type='ProTuneResNet',
#                              prompt_cfg=_base_.protune_prompt_cfg))
#   optim_wrapper = dict(_base_.protune_optim_wrapper, _delete_=True)
#
# (They are named protune_* because the upstream base already defines
# `model` and `optim_wrapper`, and mmengine refuses a key that two bases
# define.)
custom_imports = dict(imports=['mmprotune'], allow_failed_imports=False)

# A prompt block after each of the four stages. Everything else is the
# backbone's default: the family's block (ConvPromptBlock for ResNets,
# TokenPromptBlock for Swin), hidden_channels=64, kernel_size=3.
protune_prompt_cfg = dict(stages=(0, 1, 2, 3))

# AdamW, lr 1e-4, weight decay 0.05 (mmdet's Swin recipe for COCO), on the
# trained parameters only: ProTuneOptimWrapperConstructor leaves the frozen
# backbone out of the optimizer. `type` stays explicit for the upstream
# tools' --amp, which read it.
protune_optim_wrapper = dict(
    type='OptimWrapper',
    constructor='ProTuneOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05))

# Stop at the first iteration if a trainable parameter gets no gradient
# (it would never train; DDP with find_unused_parameters=False fails on it).
# action='warn' only logs the names.
custom_hooks = [dict(type='UnusedParameterCheckHook')]
