# CamVid track of the transfer benchmark, full fine-tuning: the ImageNet
# MobileNetV2 trains whole (BN statistics included), with the FPN and its
# head. Same data, schedule and evaluation as every other method of the
# track. One worker per loader: the benchmark runs two single-thread runs
# side by side on two cores.
_base_ = [
    '../_base_/models/fpn_mobilenet-v2.py',
    '../_base_/datasets/camvid.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/adamw-poly_250i_camvid.py'
]
custom_imports = dict(imports=['mmprotune'], allow_failed_imports=False)
randomness = dict(seed=0)
train_dataloader = dict(num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
