# Transfer benchmark, classification task, full fine-tuning: the pretrained
# ResNet-18 trains whole (BN statistics included), with the linear head.
# Same data, schedule and evaluation as every other method of
# tools/benchmark_transfer.py --task cls, and the schedule of the
# segmentation task.
_base_ = [
    '../_base_/models/linear_r18-w16.py',
    '../_base_/datasets/shapes-imagenet_64x64.py',
    '../_base_/schedules/adamw-poly_500i.py'
]
custom_imports = dict(imports=['mmprotune'], allow_failed_imports=False)
default_scope = 'mmpretrain'
randomness = dict(seed=0)
# mmpretrain's visualiser and (disabled) visualisation hook in place of the
# schedule's mmseg one; mmpretrain::_base_/default_runtime.py cannot be a
# base beside the schedule (both set default_hooks)
visualizer = dict(
    type='UniversalVisualizer', vis_backends=[dict(type='LocalVisBackend')])
default_hooks = dict(
    visualization=dict(
        _delete_=True, type='VisualizationHook', enable=False))
log_processor = dict(by_epoch=False)
