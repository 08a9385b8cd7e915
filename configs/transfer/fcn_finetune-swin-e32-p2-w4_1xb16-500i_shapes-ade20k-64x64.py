# Swin track of the transfer benchmark, full fine-tuning: the pretrained small
# Swin trains whole, with the FCN head. Same data, schedule and evaluation as
# every other method of tools/benchmark_transfer.py (--backbone swin).
_base_ = [
    '../_base_/models/fcn_swin-e32-p2-w4.py',
    '../_base_/datasets/shapes-ade20k_64x64.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/adamw-poly_500i.py'
]
custom_imports = dict(imports=['mmprotune'], allow_failed_imports=False)
randomness = dict(seed=0)
