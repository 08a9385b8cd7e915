"""An optimizer-wrapper constructor that hands only trainable parameters to
the optimizer and logs the resulting groups once."""
from collections import OrderedDict
from typing import Dict, List

import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class ProTuneOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """``DefaultOptimWrapperConstructor`` for frozen backbones.

    ``paramwise_cfg`` works as upstream (``custom_keys`` such as
    ``'backbone.prompts'`` or ``'decode_head'`` with ``lr_mult`` /
    ``decay_mult``, ``norm_decay_mult``, ...), but parameters with
    ``requires_grad=False`` never reach the optimizer, so it keeps no state
    for them and weight decay can never touch them. Registered in mmengine's
    root registry, so mmdet, mmseg and mmpretrain configs find it:

    .. code-block:: python

        optim_wrapper = dict(
            constructor='ProTuneOptimWrapperConstructor',
            optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05),
            paramwise_cfg=dict(custom_keys={
                'backbone.prompts': dict(lr_mult=1.0, decay_mult=0.0)}))
    """

    def __call__(self, model: nn.Module) -> OptimWrapper:
        model = getattr(model, 'module', model)
        groups: List[dict] = []
        self.add_params(groups, model)
        if not groups:
            raise ValueError(
                f'{type(self).__name__}: the model has no trainable '
                'parameters, so there is nothing to optimise')
        optimizer = OPTIMIZERS.build(dict(self.optimizer_cfg, params=groups))
        self._log_groups(model, optimizer)
        optim_wrapper_cfg = self.optim_wrapper_cfg.copy()
        optim_wrapper_cfg.setdefault('type', 'OptimWrapper')
        return OPTIM_WRAPPERS.build(
            optim_wrapper_cfg, default_args=dict(optimizer=optimizer))

    def add_params(self, params: List[dict], module: nn.Module, *args,
                   **kwargs) -> None:
        """Upstream ``add_params``, skipping wholly frozen sub-modules (so
        neither they nor one warning per frozen parameter reach the log)."""
        if any(p.requires_grad for p in module.parameters()):
            super().add_params(params, module, *args, **kwargs)

    @staticmethod
    def _log_groups(model: nn.Module, optimizer) -> None:
        """One log line per model part and (lr, weight decay) setting."""
        names = {id(p): n for n, p in model.named_parameters()}
        summary: Dict[tuple, int] = OrderedDict()
        for group in optimizer.param_groups:
            for param in group['params']:
                name = names[id(param)]
                part = ('backbone.prompts' if name.startswith(
                    'backbone.prompts.') else name.split('.')[0])
                key = (part, group['lr'], group.get('weight_decay', 0))
                summary[key] = summary.get(key, 0) + param.numel()
        trained = sum(summary.values())
        frozen = sum(p.numel() for p in model.parameters()) - trained
        lines = [
            f'  {part}: {count:,} params, lr={lr:g}, weight_decay={wd:g}'
            for (part, lr, wd), count in summary.items()
        ]
        print_log(
            f'{type(optimizer).__name__} optimises {trained:,} parameters '
            f'({frozen:,} frozen ones are left out):\n' + '\n'.join(lines),
            logger='current')
