# Transfer benchmark, full fine-tuning: the pretrained ResNet-18 trains whole
# (BN statistics included), with the FCN head. Same data, schedule and
# evaluation as every other method of tools/benchmark_transfer.py.
_base_ = [
    '../_base_/models/fcn_r18-w16-d8.py',
    '../_base_/datasets/shapes-ade20k_64x64.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/adamw-poly_500i.py'
]
custom_imports = dict(imports=['mmprotune'], allow_failed_imports=False)
randomness = dict(seed=0)
