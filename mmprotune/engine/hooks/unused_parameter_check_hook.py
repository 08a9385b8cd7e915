"""Stop (or warn) when a trainable parameter gets no gradient in the first
training iteration."""
import logging
from typing import Dict, List, Optional

import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from mmprotune.models.backbones.prompted import PromptedBackboneMixin
from mmprotune.models.peft.base import HookedMethod, hook_specs

#: What ``action`` may be.
ACTIONS = ('raise', 'warn')
NOT_REACHED = ('not reached from the loss (a layer, branch or head that the '
               "forward or the loss does not use, or a frozen layer's "
               'parameter set back to requires_grad=True that the forward '
               'skips)')


@HOOKS.register_module()
class UnusedParameterCheckHook(Hook):
    """Name every trainable parameter that gets no gradient in the first
    training iteration, with its likely cause.

    Such a parameter never trains (the run silently tunes less than it
    claims), and DDP with ``find_unused_parameters=False`` fails on it.
    Registered in mmengine's root ``HOOKS`` (mmdet, mmseg and mmpretrain
    configs find it); on in the repository's configs through
    ``configs/_base_``:

    .. code-block:: python

        custom_hooks = [dict(type='UnusedParameterCheckHook')]

    Timing: the optimizer wrapper's ``update_params`` runs backward, the
    optimizer step and ``zero_grad`` (``set_to_none``) inside the model's
    ``train_step``, so ``.grad`` is gone by ``after_train_iter``. Instead,
    :meth:`before_train_iter` puts a post-accumulate-grad hook on each
    trainable parameter (it runs when backward writes the parameter's
    ``.grad``), and :meth:`after_train_iter` names those whose hook never
    ran and removes the hooks. Only the first iteration of a run is checked
    (the first after a resume too).

    Args:
        action (str): ``'raise'`` (a ``RuntimeError``) or ``'warn'`` (a
            warning in the log). Default: ``'raise'``.
    """
    priority = 'VERY_LOW'

    def __init__(self, action: str = 'raise'):
        if action not in ACTIONS:
            raise ValueError(f'UnusedParameterCheckHook: action={action!r} '
                             f'is not one of {ACTIONS}')
        self.action = action
        self._checked = False
        self._handles: list = []
        self._reached: set = set()
        self._names: List[str] = []

    @staticmethod
    def _model(runner) -> nn.Module:
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch: Optional[dict] = None) -> None:
        if self._checked or self._handles:
            return
        self._reached = set()
        self._names = []
        for name, param in self._model(runner).named_parameters():
            if not param.requires_grad:
                continue
            self._names.append(name)
            self._handles.append(param.register_post_accumulate_grad_hook(
                lambda _, name=name: self._reached.add(name)))

    def after_train_iter(self, runner, batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        if self._checked or not self._handles:
            return
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._checked = True
        unused = [n for n in self._names if n not in self._reached]
        if not unused:
            return
        causes = likely_causes(self._model(runner), unused)
        lines = '\n'.join(f'  {n}: {causes[n]}' for n in unused)
        message = (
            f'UnusedParameterCheckHook: {len(unused)} of {len(self._names)} '
            'trainable parameter(s) got no gradient in the first training '
            'iteration; they never train, and DDP with '
            f'find_unused_parameters=False fails on them:\n{lines}\n'
            'Fix the model, or freeze them (requires_grad=False); to only '
            "warn, use dict(type='UnusedParameterCheckHook', action='warn') "
            'in custom_hooks.')
        if self.action == 'raise':
            raise RuntimeError(message)
        print_log(message, logger='current', level=logging.WARNING)


def likely_causes(model: nn.Module, names: List[str]) -> Dict[str, str]:
    """The likely cause of each parameter in ``names`` (full names in
    ``model``) getting no gradient."""
    causes = {name: NOT_REACHED for name in names}
    for prefix, module in model.named_modules():
        if not isinstance(module, PromptedBackboneMixin):
            continue
        prompts = f'{prefix}.prompts.' if prefix else 'prompts.'
        stages = module.stage_modules()
        stage_names = {id(m): n for n, m in module.named_modules()}
        last = module.last_output_stage()
        for name in names:
            if not name.startswith(prompts):
                continue
            index, *rest = name[len(prompts):].split('.')
            block = module.prompts[index]
            if int(index) > last:
                causes[name] = (
                    f'its stage {index} comes after the last out_indices '
                    f'stage {last}, so it reaches no output')
            elif isinstance(block, HookedMethod) and rest[0] == 'layers':
                causes[name] = _hook_cause(block, rest[1], stages[int(index)],
                                           prefix, stage_names)
    return causes


def _hook_cause(block: HookedMethod, key: str, stage: nn.Module,
                prefix: str, stage_names: Dict[int, str]) -> str:
    """Why a hooked method's layer ``key`` got no gradient."""
    layer = block.layers[key]
    target = stage.get_submodule(block.target_names[key])
    for module, hook, pre in hook_specs(layer, target):
        hooks = module._forward_pre_hooks if pre else module._forward_hooks
        if not any(h == hook for h in hooks.values()):
            path = '.'.join(p for p in (prefix, stage_names.get(id(module)))
                            if p)
            return (f'its frozen target {path} ({type(module).__name__}) '
                    'lost its hook: the module was swapped (e.g. SyncBN '
                    'reverted or converted by the Runner) after the hooks '
                    'were attached')
    return ('its hooked layer ' + block.target_names[key] + ' is ' +
            NOT_REACHED)
