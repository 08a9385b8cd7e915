"""Per-task delta checkpoints: what Pro-tuning changes, and the hash of what
it does not; merging a delta with its base into an ordinary checkpoint.

A Pro-tuned detector, segmentor or classifier is the frozen wrapped backbone
(the pretrained weights, unchanged by training) plus what trains: the prompt
blocks ``backbone.prompts``, the neck and the heads. A *delta* checkpoint is an
ordinary mmengine Runner checkpoint whose ``state_dict`` lacks exactly the
frozen backbone's parameters and buffers, and whose ``meta`` names the base:

.. code-block:: python

    checkpoint['meta']['mmprotune_delta'] = dict(
        base_checkpoint='<init_cfg.checkpoint or model.pretrained>',
        base_sha256='<frozen_backbone_sha256(backbone)>',
        mmprotune_version='0.1.0')

Everything here selects the frozen part by module (the wrapped backbone minus
its ``prompts`` child), never by guessing from key names, so
:class:`~mmprotune.engine.hooks.DeltaCheckpointHook` and :func:`merge_delta`
(``tools/merge_delta.py``) agree on it. Each operation finds that part once
(:meth:`FrozenBase.of`) and works on it.
"""
import hashlib
import os
import os.path as osp
from collections import OrderedDict
from copy import deepcopy
from typing import Dict, Mapping, Optional, Set, Tuple, Union

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.model import is_model_wrapper
from mmengine.registry import MODELS, init_default_scope
from mmengine.runner.checkpoint import (_load_checkpoint, save_checkpoint,
                                        weights_to_cpu)

from mmprotune.models.backbones.prompted import PromptedBackboneMixin
from mmprotune.utils.model import check_scope, model_config
from mmprotune.version import __version__

#: Key of the delta metadata in ``checkpoint['meta']``.
DELTA_META_KEY = 'mmprotune_delta'
#: Key of the merge metadata in a merged checkpoint's ``meta``.
MERGED_META_KEY = 'mmprotune_merged'
#: Name of the tuning modules' child module in a ProTune backbone (see
#: docs/design.md, "Names").
PROMPTS = 'prompts'
#: Prefix of the backbone's keys in a detector's / segmentor's /
#: classifier's state dict.
BACKBONE_PREFIX = 'backbone.'


class DeltaBaseMismatchError(ValueError):
    """The frozen backbone of the model is not the base a delta was trained
    on."""


def unwrap_model(model: nn.Module) -> nn.Module:
    """The detector / segmentor / classifier inside DDP-style wrappers and
    TTA models (which keep it as ``.module``)."""
    while is_model_wrapper(model) or (not hasattr(model, 'backbone')
                                      and isinstance(
                                          getattr(model, 'module', None),
                                          nn.Module)):
        model = model.module
    return model


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


def is_delta(checkpoint: Mapping) -> bool:
    """Whether a loaded checkpoint is a delta checkpoint."""
    meta = checkpoint.get('meta') if isinstance(checkpoint, Mapping) else None
    return isinstance(meta, Mapping) and DELTA_META_KEY in meta


class FrozenBase:
    """The frozen wrapped backbone of a Pro-tuned detector, segmentor or
    classifier: what a delta checkpoint leaves out and records by hash.

    Build it once per operation with :meth:`of`; its methods then split a
    state dict, describe the base, and check and restore it.

    Args:
        model (nn.Module): The unwrapped detector / segmentor /
            classifier.
        backbone (PromptedBackboneMixin): Its ``backbone``.
    """

    def __init__(self, model: nn.Module,
                 backbone: PromptedBackboneMixin) -> None:
        self.model = model
        self.backbone = backbone

    @classmethod
    def of(cls, model: nn.Module) -> 'FrozenBase':
        """The frozen base of ``model`` (wrapped or not).

        Raises:
            TypeError: ``model`` has no ``backbone``, or it is not a
                ``ProTune*`` backbone (a fine-tuned backbone changes, so it
                has no delta).
        """
        model = unwrap_model(model)
        backbone = getattr(model, 'backbone', None)
        if not isinstance(backbone, PromptedBackboneMixin):
            raise TypeError(
                f'Delta checkpoints need a ProTune* backbone (a frozen '
                f'wrapped backbone plus prompts); {type(model).__name__}'
                f'.backbone is {type(backbone).__name__}. Use the usual full '
                'checkpoints, i.e. remove DeltaCheckpointHook from '
                'custom_hooks.')
        return cls(model, backbone)

    def state_dict(self) -> 'OrderedDict[str, torch.Tensor]':
        """The frozen tensors under the model's keys, e.g.
        ``'backbone.layer1.0.conv1.weight'`` but no ``'backbone.prompts.*'``
        (see :func:`frozen_state_dict`)."""
        return frozen_state_dict(self.backbone, BACKBONE_PREFIX)

    def module_names(self) -> Set[str]:
        """Names in the model of the frozen modules (the backbone itself
        included, without a trailing dot), as in a state dict's
        ``_metadata``."""
        return {(BACKBONE_PREFIX + name).rstrip('.')
                for name, _ in self.backbone.named_modules()
                if name != PROMPTS and not name.startswith(PROMPTS + '.')}

    def meta(self) -> Dict[str, Optional[str]]:
        """The ``meta['mmprotune_delta']`` entry describing this base."""
        return dict(
            base_checkpoint=self.backbone.pretrained_checkpoint,
            base_sha256=frozen_backbone_sha256(self.backbone),
            mmprotune_version=__version__)

    def split(
        self, state_dict: Mapping[str, torch.Tensor]
    ) -> Tuple['OrderedDict[str, torch.Tensor]',
               'OrderedDict[str, torch.Tensor]']:
        """Split a full state dict of the model into (delta, frozen).

        Args:
            state_dict (Mapping[str, Tensor]): Keys of the unwrapped model.

        Returns:
            tuple[OrderedDict, OrderedDict]: ``delta``: every entry outside
            the frozen wrapped backbone (prompts, neck, heads, their
            buffers); ``frozen``: the frozen backbone's parameters and
            buffers. Both keep the order of ``state_dict``.

        Raises:
            ValueError: A frozen parameter requires grad, so dropping it
                would lose what training changed.
        """
        trainable = sorted(
            BACKBONE_PREFIX + name
            for name, param in self.backbone.named_parameters()
            if param.requires_grad and not name.startswith(PROMPTS + '.'))
        if trainable:
            raise ValueError(
                f'{len(trainable)} parameter(s) of the frozen backbone '
                f'require grad, e.g. {trainable[:3]}; a delta checkpoint '
                'would lose them. Keep the wrapped backbone frozen or save '
                'full checkpoints.')
        keys = set(self.state_dict())
        delta, frozen = OrderedDict(), OrderedDict()
        for key, value in state_dict.items():
            (frozen if key in keys else delta)[key] = value
        metadata = getattr(state_dict, '_metadata', None)
        if metadata is not None:  # per-module versions, as torch saves them
            modules = self.module_names()
            delta._metadata = OrderedDict(
                (k, v) for k, v in metadata.items() if k not in modules)
            frozen._metadata = OrderedDict(
                (k, v) for k, v in metadata.items() if k in modules)
        return delta, frozen

    def check(self, checkpoint: Mapping) -> str:
        """Check that this base is the one of the delta ``checkpoint``.

        Returns:
            str: The (matching) SHA-256 of the frozen backbone.

        Raises:
            DeltaBaseMismatchError: The hashes differ; the message names
                both hashes and both base checkpoints.
        """
        info = checkpoint['meta'][DELTA_META_KEY]
        actual = frozen_backbone_sha256(self.backbone)
        if actual != info.get('base_sha256'):
            raise DeltaBaseMismatchError(
                'The delta checkpoint was trained on another frozen '
                f'backbone: its base is {info.get("base_checkpoint")!r} with '
                f'SHA-256 {info.get("base_sha256")}, but the model\'s frozen '
                'backbone (loaded from '
                f'{self.backbone.pretrained_checkpoint!r}) has SHA-256 '
                f'{actual}. Point the backbone\'s init_cfg.checkpoint (or '
                'mmseg\'s model.pretrained) at the delta\'s base checkpoint.')
        return actual

    def ensure_weights(self) -> None:
        """Load the base weights unless weights were already initialised
        (``Runner.train`` does that before loading / resuming;
        ``Runner.test`` and ``Runner.val`` do not): run the backbone's
        ``init_weights()``, which loads its ``Pretrained`` init_cfg (and
        zero-initialises the prompts, which the delta then overwrites)."""
        if not (getattr(self.model, 'is_init', False)
                or getattr(self.backbone, 'is_init', False)):
            self.backbone.init_weights()

    def complete(self, checkpoint: dict) -> str:
        """Make a loaded delta checkpoint whole, in place, from this
        verified base.

        Loads the base weights if needed (:meth:`ensure_weights`), checks
        them (:meth:`check`) and adds the frozen backbone's tensors to
        ``checkpoint['state_dict']``, so that loading it (strict or not)
        restores the whole model and reports only keys that are really
        missing.

        Returns:
            str: The SHA-256 of the base.
        """
        self.ensure_weights()
        sha256 = self.check(checkpoint)
        state_dict = checkpoint['state_dict']
        for key, value in self.state_dict().items():
            state_dict[key] = value.detach()
        return sha256


def split_delta(
    model: nn.Module, state_dict: Mapping[str, torch.Tensor]
) -> Tuple['OrderedDict[str, torch.Tensor]',
           'OrderedDict[str, torch.Tensor]']:
    """Split a full state dict of ``model`` (wrapped or not) into (delta,
    frozen): :meth:`FrozenBase.split` of ``FrozenBase.of(model)``."""
    return FrozenBase.of(model).split(state_dict)


def merge_delta(cfg: Config, delta: str, out: str) -> dict:
    """Merge a delta checkpoint with its frozen base into an ordinary
    checkpoint.

    Builds ``cfg.model``, initialises the frozen backbone's base from its
    ``init_cfg`` (or mmseg's ``model.pretrained``), checks that its SHA-256
    is the one the delta records, loads the delta on top (strict: the delta
    plus the base must be exactly the model's tensors) and writes ``out`` as
    ``{'meta': ..., 'state_dict': ...}`` with every tensor of the model.
    ``meta`` is the delta's, with ``mmprotune_delta`` replaced by
    ``mmprotune_merged`` (the delta's path, base checkpoint and hash, and
    the mmprotune version); optimizer and scheduler states are not copied.
    Nothing is written when a check fails.

    Args:
        cfg (Config): The config the delta was trained with; its
            ``default_scope`` is mmdet, mmseg or mmpretrain.
        delta (str): Path or URL of a delta checkpoint.
        out (str): Where to write the merged checkpoint.

    Returns:
        dict: The saved checkpoint, ``{'meta': ..., 'state_dict': ...}``.

    Raises:
        ValueError: ``delta`` is not a delta checkpoint, or the config's
            scope is not supported.
        DeltaBaseMismatchError: The config's base backbone is not the
            delta's.
    """
    scope = check_scope(cfg)
    checkpoint = _load_checkpoint(delta, map_location='cpu')
    if not is_delta(checkpoint):
        raise ValueError(
            f'{delta} is not a delta checkpoint (its meta has no '
            f'{DELTA_META_KEY!r}); it can be used as it is.')
    info = checkpoint['meta'][DELTA_META_KEY]

    init_default_scope(scope)
    model = MODELS.build(model_config(cfg))
    sha256 = FrozenBase.of(model).complete(checkpoint)
    model.load_state_dict(checkpoint['state_dict'], strict=True)

    meta = deepcopy(checkpoint['meta'])
    meta.pop(DELTA_META_KEY)
    meta[MERGED_META_KEY] = dict(
        delta=delta,
        base_checkpoint=info.get('base_checkpoint'),
        base_sha256=sha256,
        mmprotune_version=__version__)
    merged = dict(meta=meta, state_dict=weights_to_cpu(model.state_dict()))
    if osp.dirname(out):
        os.makedirs(osp.dirname(out), exist_ok=True)
    save_checkpoint(merged, out)
    return merged
