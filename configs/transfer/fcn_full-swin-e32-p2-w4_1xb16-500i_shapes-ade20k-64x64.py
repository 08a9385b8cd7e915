# Swin track of the transfer benchmark, full fine-tuning: the pretrained small
# Swin trains whole, with the FCN head. Same data, schedule and evaluation as
# every other method of tools/benchmark_transfer.py (--backbone swin). The
# Swin's own weights train at 0.1x the schedule's lr (1e-3): at 1e-2 full
# fine-tuning diverged to background-only predictions (mIoU 20.6). Every
# method of the track inherits this; only full fine-tuning (and scratch) train
# such weights, everything new (head, prompts, adapters) trains at 1e-2.
_base_ = [
    '../_base_/models/fcn_swin-e32-p2-w4.py',
    '../_base_/datasets/shapes-ade20k_64x64.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/adamw-poly_500i.py'
]
custom_imports = dict(imports=['mmprotune'], allow_failed_imports=False)
randomness = dict(seed=0)
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            'backbone': dict(lr_mult=0.1),
            'backbone.prompts': dict(lr_mult=1.0)
        }))
