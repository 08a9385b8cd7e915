"""mmprotune's own registry for prompt blocks.

The backbone wrappers are registered in mmdet's and mmseg's ``MODELS`` (so a
config with ``default_scope='mmdet'`` or ``'mmseg'`` finds them); prompt blocks
live here, so that one ``prompt_cfg.type`` works in both scopes.
"""
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import Registry

MODELS = Registry(
    'model',
    parent=MMENGINE_MODELS,
    scope='mmprotune',
    locations=['mmprotune.models'])
