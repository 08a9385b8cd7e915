# Raccoon track of the transfer benchmark, full fine-tuning: the ImageNet
# MobileNetV2 trains whole (BN statistics included), with the FPN, RPN and
# RoI head. Same data, schedule and evaluation as every other method of the
# track. One worker per loader: the benchmark runs two single-thread runs
# side by side on two cores.
_base_ = [
    '../_base_/models/faster-rcnn_mobilenet-v2_fpn.py',
    '../_base_/datasets/raccoon.py',
    'mmdet::_base_/default_runtime.py',
    '../_base_/schedules/adamw-poly_300i_raccoon.py'
]
custom_imports = dict(imports=['mmprotune'], allow_failed_imports=False)
randomness = dict(seed=0)
train_dataloader = dict(num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
# iteration-based logs and one checkpoint at the end (mmdet's runtime counts
# epochs)
default_hooks = dict(
    logger=dict(log_metric_by_epoch=False, interval=25),
    checkpoint=dict(by_epoch=False, interval=_base_.max_iters))
log_processor = dict(by_epoch=False)
