"""One way to build a config's model outside the Runner: for the tools that
count, measure or merge, and for the tests."""
import copy
import importlib
from typing import List, Optional

import torch.nn as nn
from mmengine.config import Config, ConfigDict
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import MODELS, DefaultScope

#: The ``default_scope`` values of the configs mmprotune runs.
SUPPORTED_SCOPES = ('mmdet', 'mmseg', 'mmpretrain')
#: A scope -> the pip package that brings it (mmpretrain is optional).
SCOPE_PACKAGES = dict(
    mmdet='mmdet', mmseg='mmsegmentation', mmpretrain='mmpretrain')


def conv_layers(module: nn.Module) -> List[nn.Conv2d]:
    """The ``nn.Conv2d`` layers of ``module`` in registration order (the
    order a plain block runs them, e.g. a MobileNetV2 inverted residual
    block's expansion, depth-wise and projection convs)."""
    return [m for m in module.modules() if isinstance(m, nn.Conv2d)]


def scope_installed(scope: str) -> bool:
    """Whether the package of ``scope`` (e.g. ``'mmpretrain'``) is installed.

    Returns:
        bool: False only if it is not installed; any other error of its
        import (a broken install) is raised.
    """
    try:
        importlib.import_module(scope)
    except ModuleNotFoundError as err:
        if err.name != scope:
            raise
        return False
    return True


def missing_scope_error(scope: str, what: str) -> ImportError:
    """The error for ``what`` (e.g. ``"default_scope 'mmpretrain'"``), which
    needs ``scope``'s package, found not installed."""
    return ImportError(
        f'{what} needs {scope}, which is not installed: pip install '
        f'{SCOPE_PACKAGES[scope]} (mmprotune is tested with the versions '
        'of requirements/constraints.txt; mmpretrain also needs the '
        'torchvision built for your torch).')


def check_scope(cfg: Config, source: Optional[str] = None) -> str:
    """The config's ``default_scope``, checked against
    :data:`SUPPORTED_SCOPES`.

    Args:
        cfg (Config): The config.
        source (str, optional): Its file, named in the error. Default: None.

    Returns:
        str: ``'mmdet'``, ``'mmseg'`` or ``'mmpretrain'``.

    Raises:
        ValueError: The scope is missing or not supported.
        ImportError: Its package is not installed.
    """
    scope = cfg.get('default_scope')
    where = f' in config {source}' if source else ''
    if scope not in SUPPORTED_SCOPES:
        raise ValueError(f'Unsupported default_scope {scope!r}{where}; '
                         f'expected one of {SUPPORTED_SCOPES}.')
    if not scope_installed(scope):
        raise missing_scope_error(scope, f'default_scope {scope!r}{where}')
    return scope


def model_config(cfg: Config) -> ConfigDict:
    """A copy of ``cfg.model`` as the Runner builds it: with the config's
    top-level ``data_preprocessor`` (where mmpretrain configs keep it) unless
    the model sets its own.

    Args:
        cfg (Config): The config. Not modified.

    Returns:
        ConfigDict: The model config.
    """
    model_cfg = copy.deepcopy(cfg.model)
    if cfg.get('data_preprocessor') is not None \
            and 'data_preprocessor' not in model_cfg:
        model_cfg.data_preprocessor = copy.deepcopy(cfg.data_preprocessor)
    return model_cfg


def build_model(cfg: Config, pretrained: bool = False) -> nn.Module:
    """The config's model, built in its scope's registry and initialised.

    Args:
        cfg (Config): A config whose ``default_scope`` is one of
            :data:`SUPPORTED_SCOPES` (its ``custom_imports`` already imported
            by ``Config.fromfile``). Not modified.
        pretrained (bool): Load the pretrained weights the config names (the
            backbone's ``init_cfg``, mmseg's ``model.pretrained``) through
            ``init_weights()``, e.g. to merge a delta checkpoint onto its
            base. Default: False (drop them: random weights, nothing read,
            e.g. to count parameters or measure costs).

    Returns:
        nn.Module: The model in train mode, with BN instead of SyncBN (one
        process, as the Runner does without a process group).
    """
    scope = check_scope(cfg)
    model_cfg = model_config(cfg)
    if not pretrained:
        model_cfg.backbone.init_cfg = None
        model_cfg.pop('pretrained', None)
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(model_cfg)
    model.init_weights()
    return revert_sync_batchnorm(model).train()
