"""Per-task delta checkpoints: what Pro-tuning changes, and the hash of what
it does not.

A Pro-tuned detector or segmentor is the frozen wrapped backbone (the
pretrained weights, unchanged by training) plus what trains: the prompt blocks
``backbone.prompts``, the neck and the heads. A *delta* checkpoint is an
ordinary mmengine Runner checkpoint whose ``state_dict`` lacks exactly the
frozen backbone's parameters and buffers, and whose ``meta`` names the base:

.. code-block:: python

    checkpoint['meta']['mmprotune_delta'] = dict(
        base_checkpoint='<init_cfg.checkpoint or model.pretrained>',
        base_sha256='<frozen_backbone_sha256(backbone)>',
        mmprotune_version='0.1.0')

Everything here selects the frozen part by module (the wrapped backbone minus
its ``prompts`` child), never by guessing from key names, so
:class:`~mmprotune.engine.hooks.DeltaCheckpointHook` and
``tools/merge_delta.py`` agree on it.
"""
import hashlib
from collections import OrderedDict
from typing import Dict, Mapping, Optional, Set, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import is_model_wrapper

from mmprotune.models.backbones.prompted import PromptedBackboneMixin
from mmprotune.version import __version__

#: Key of the delta metadata in ``checkpoint['meta']``.
DELTA_META_KEY = 'mmprotune_delta'
#: Name of the prompt blocks' child module in a ProTune backbone.
PROMPTS = 'prompts'


class DeltaBaseMismatchError(ValueError):
    """The frozen backbone of the model is not the base a delta was trained
    on."""


def unwrap_model(model: nn.Module) -> nn.Module:
    """The detector / segmentor inside DDP-style wrappers and TTA models
    (which keep it as ``.module``)."""
    while is_model_wrapper(model) or (not hasattr(model, 'backbone')
                                      and isinstance(
                                          getattr(model, 'module', None),
                                          nn.Module)):
        model = model.module
    return model


def get_protune_backbone(model: nn.Module) -> PromptedBackboneMixin:
    """The ``ProTune*`` backbone of a detector or segmentor.

    Raises:
        TypeError: ``model`` has no ``backbone``, or it is not a ``ProTune*``
            backbone (a fine-tuned backbone changes, so it has no delta).
    """
    model = unwrap_model(model)
    backbone = getattr(model, 'backbone', None)
    if not isinstance(backbone, PromptedBackboneMixin):
        raise TypeError(
            f'Delta checkpoints need a ProTune* backbone (a frozen wrapped '
            f'backbone plus prompts); {type(model).__name__}.backbone is '
            f'{type(backbone).__name__}. Use the usual full checkpoints, '
            'i.e. remove DeltaCheckpointHook from custom_hooks.')
    return backbone


def frozen_state_dict(backbone: PromptedBackboneMixin,
                      prefix: str = '') -> 'OrderedDict[str, torch.Tensor]':
    """Parameters and buffers of the frozen wrapped backbone: the backbone's
    state dict minus that of its ``prompts`` child.

    Args:
        backbone (PromptedBackboneMixin): A ``ProTune*`` backbone.
        prefix (str): Prepended to every key, e.g. ``'backbone.'``.

    Returns:
        OrderedDict[str, Tensor]: ``{prefix + name: tensor}`` (detached, not
        copied), in the backbone's state dict order.
    """
    prompt_keys = set(
        getattr(backbone, PROMPTS).state_dict(prefix=PROMPTS + '.'))
    return OrderedDict((prefix + k, v)
                       for k, v in backbone.state_dict().items()
                       if k not in prompt_keys)


def frozen_backbone_sha256(
        backbone: Union[PromptedBackboneMixin, Mapping[str,
                                                       torch.Tensor]]) -> str:
    """SHA-256 of the frozen wrapped backbone's tensors.

    The digest runs over the tensors in sorted key order; for each it takes
    the key (relative to the backbone, e.g. ``'layer1.0.conv1.weight'``), the
    dtype, the shape and the raw bytes of the contiguous CPU tensor. So it
    depends on every value, name, dtype and shape, and on nothing else
    (device, insertion order, ``requires_grad``).

    Args:
        backbone (PromptedBackboneMixin | Mapping[str, Tensor]): A
            ``ProTune*`` backbone (its :func:`frozen_state_dict` is hashed),
            or such a state dict itself, e.g. a pretrained checkpoint's.

    Returns:
        str: 64 hex digits.
    """
    if isinstance(backbone, nn.Module):
        backbone = frozen_state_dict(backbone)
    digest = hashlib.sha256()
    for key in sorted(backbone):
        tensor = backbone[key].detach().cpu().contiguous()
        header = f'{key}\0{tensor.dtype}\0{tuple(tensor.shape)}\0'
        digest.update(header.encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def base_checkpoint_of(backbone: PromptedBackboneMixin) -> Optional[str]:
    """The pretrained checkpoint (path or URL) the frozen backbone loads:
    ``init_cfg.checkpoint`` of a ``Pretrained`` init_cfg, which mmseg's
    ``model.pretrained`` turns into as well. ``None`` without one."""
    return backbone._pretrained_checkpoint()


def is_delta(checkpoint: Mapping) -> bool:
    """Whether a loaded checkpoint is a delta checkpoint."""
    meta = checkpoint.get('meta') if isinstance(checkpoint, Mapping) else None
    return isinstance(meta, Mapping) and DELTA_META_KEY in meta


def delta_meta(model: nn.Module) -> Dict[str, Optional[str]]:
    """The ``meta['mmprotune_delta']`` entry describing ``model``'s base."""
    backbone = get_protune_backbone(model)
    return dict(
        base_checkpoint=base_checkpoint_of(backbone),
        base_sha256=frozen_backbone_sha256(backbone),
        mmprotune_version=__version__)


def _backbone_prefix(model: nn.Module, backbone: nn.Module) -> str:
    for name, module in model.named_modules():
        if module is backbone:
            return name + '.'
    raise ValueError('the backbone is not a sub-module of the model')


def frozen_keys(model: nn.Module) -> Tuple[str, ...]:
    """State dict keys of ``model`` (as saved, i.e. of the unwrapped model)
    that belong to the frozen wrapped backbone, e.g.
    ``'backbone.layer1.0.conv1.weight'`` but no ``'backbone.prompts.*'``."""
    model = unwrap_model(model)
    backbone = get_protune_backbone(model)
    return tuple(
        frozen_state_dict(backbone, _backbone_prefix(model, backbone)))


def split_delta(
    model: nn.Module, state_dict: Mapping[str, torch.Tensor]
) -> Tuple['OrderedDict[str, torch.Tensor]',
           'OrderedDict[str, torch.Tensor]']:
    """Split a full state dict of ``model`` into (delta, frozen).

    Args:
        model (nn.Module): The detector / segmentor (wrapped or not) the
            state dict belongs to; it defines the frozen part.
        state_dict (Mapping[str, Tensor]): Keys of the unwrapped model.

    Returns:
        tuple[OrderedDict, OrderedDict]: ``delta``: every entry outside the
        frozen wrapped backbone (prompts, neck, heads, their buffers);
        ``frozen``: the frozen backbone's parameters and buffers. Both keep
        the order of ``state_dict``.

    Raises:
        ValueError: A frozen parameter requires grad, so dropping it would
            lose what training changed.
    """
    keys = set(frozen_keys(model))
    trainable = sorted(
        f'backbone.{name}' for name, param in get_protune_backbone(
            model).named_parameters()
        if param.requires_grad and not name.startswith(PROMPTS + '.'))
    if trainable:
        raise ValueError(
            f'{len(trainable)} parameter(s) of the frozen backbone require '
            f'grad, e.g. {trainable[:3]}; a delta checkpoint would lose '
            'them. Keep the wrapped backbone frozen or save full checkpoints.')
    delta, frozen = OrderedDict(), OrderedDict()
    for key, value in state_dict.items():
        (frozen if key in keys else delta)[key] = value
    metadata = getattr(state_dict, '_metadata', None)
    if metadata is not None:  # per-module versions, as torch saves them
        modules = _frozen_module_names(model)
        delta._metadata = OrderedDict(
            (k, v) for k, v in metadata.items() if k not in modules)
        frozen._metadata = OrderedDict(
            (k, v) for k, v in metadata.items() if k in modules)
    return delta, frozen


def _frozen_module_names(model: nn.Module) -> Set[str]:
    model = unwrap_model(model)
    backbone = get_protune_backbone(model)
    prefix = _backbone_prefix(model, backbone)
    return {(prefix + name).rstrip('.')
            for name, _ in backbone.named_modules()
            if name != PROMPTS and not name.startswith(PROMPTS + '.')}


def check_base(model: nn.Module, checkpoint: Mapping) -> str:
    """Check that ``model``'s frozen backbone is the base of the delta
    ``checkpoint``.

    Returns:
        str: The (matching) SHA-256 of the model's frozen backbone.

    Raises:
        DeltaBaseMismatchError: The hashes differ; the message names both
            hashes and both base checkpoints.
    """
    backbone = get_protune_backbone(model)
    info = checkpoint['meta'][DELTA_META_KEY]
    actual = frozen_backbone_sha256(backbone)
    if actual != info.get('base_sha256'):
        raise DeltaBaseMismatchError(
            'The delta checkpoint was trained on another frozen backbone: '
            f'its base is {info.get("base_checkpoint")!r} with SHA-256 '
            f'{info.get("base_sha256")}, but the model\'s frozen backbone '
            f'(loaded from {base_checkpoint_of(backbone)!r}) has SHA-256 '
            f'{actual}. Point the backbone\'s init_cfg.checkpoint (or '
            'mmseg\'s model.pretrained) at the delta\'s base checkpoint.')
    return actual


def ensure_base_weights(model: nn.Module) -> None:
    """Load the frozen backbone's base weights unless weights were already
    initialised (``Runner.train`` does that before loading / resuming;
    ``Runner.test`` and ``Runner.val`` do not): run the backbone's
    ``init_weights()``, which loads its ``Pretrained`` init_cfg (and
    zero-initialises the prompts, which the delta then overwrites)."""
    model = unwrap_model(model)
    backbone = get_protune_backbone(model)
    if not (getattr(model, 'is_init', False)
            or getattr(backbone, 'is_init', False)):
        backbone.init_weights()


def complete_delta(model: nn.Module, checkpoint: dict) -> str:
    """Make a loaded delta checkpoint whole, in place, from ``model``'s
    verified base.

    Loads the base weights if needed (:func:`ensure_base_weights`), checks
    them (:func:`check_base`) and adds the frozen backbone's tensors to
    ``checkpoint['state_dict']``, so that loading it (strict or not) restores
    the whole model and reports only keys that are really missing.

    Returns:
        str: The SHA-256 of the base.
    """
    ensure_base_weights(model)
    sha256 = check_base(model, checkpoint)
    model = unwrap_model(model)
    backbone = get_protune_backbone(model)
    state_dict = checkpoint['state_dict']
    for key, value in frozen_state_dict(
            backbone, _backbone_prefix(model, backbone)).items():
        state_dict[key] = value.detach()
    return sha256
