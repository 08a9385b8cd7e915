# One schedule for every tuning method of the raccoon track: AdamW, weight
# decay 0.05 on whatever trains, linear warm-up then poly decay over 300
# iterations of batch 8; no validation during training, a checkpoint at the
# end (mmdet's runtime hooks, set by the configs). The lr is a default: the
# transfer benchmark chooses it per method on its selection split.
max_iters = 300
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
