# One schedule for every tuning method of the CamVid track: AdamW, weight
# decay 0.05 on whatever trains, linear warm-up then poly decay over 250
# iterations of batch 8 (about 5.4 epochs of the 367 training images); no
# validation during training, a checkpoint at the end. The lr is a default:
# the transfer benchmark chooses it per method on its selection split.
# 250 iterations: one full fine-tuning run trains in about 6.5 minutes on one
# CPU thread. Measured on the real data (one thread, batch 8, 240 x 320,
# median of 10 steps after 3, init_cfg=None): s/step full fine-tuning 1.51,
# head-only 0.93, Pro-tuning 1.81 (data_time 0.01-0.04 with one worker: not
# data-bound); the test pipeline on the 101 val images takes 9 s.
max_iters = 250
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='ProTuneOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999),
                   weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=max_iters // 20),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=max_iters // 20,
         end=max_iters, by_epoch=False)
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# Stop at the first iteration if a trainable parameter gets no gradient (see
# configs/_base_/protune.py).
custom_hooks = [dict(type='UnusedParameterCheckHook')]
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=25, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=max_iters),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
