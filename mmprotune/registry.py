"""mmprotune's own registry for the tuning modules that ``prompt_cfg.type``
names (Pro-tuning's prompt blocks and the PEFT baselines,
:mod:`mmprotune.models.peft`).

The backbone wrappers are registered in mmdet's, mmseg's and mmpretrain's
``MODELS`` (so a config with ``default_scope='mmdet'``, ``'mmseg'`` or
``'mmpretrain'`` finds them); the tuning modules live here, so that one
``prompt_cfg.type`` works in every scope.
"""
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import Registry

MODELS = Registry(
    'model',
    parent=MMENGINE_MODELS,
    scope='mmprotune',
    locations=['mmprotune.models'])
