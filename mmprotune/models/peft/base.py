"""The two kinds of tuning module that ``prompt_cfg.type`` names.

A ProTune* backbone wrapper resolves ``prompt_cfg.type`` in
:data:`mmprotune.registry.MODELS` and asks the class (a
:class:`TuningModule`) whether it applies to the backbone
(:meth:`TuningModule.applies_to`) and to build itself for each tuned stage
(:meth:`TuningModule.build_for_stage`). There are two kinds:

- :class:`StageBlock` (Pro-tuning's prompt blocks): built from a stage's
  output channels; the wrapper calls it at the end of each tuned stage and
  adds the prompt it returns to the stage output.
- :class:`HookedMethod` (the PEFT baselines): built from the frozen stage
  module; it creates one small trainable layer per frozen target layer and
  attaches it with ``register_forward_hook(layer.forward_hook)``. At the
  stage end it adds nothing. Targets are kept by their name in the stage, not
  by module identity: the Runner replaces modules (``revert_sync_batchnorm``
  in one process, ``convert_sync_batchnorm`` for ``sync_bn`` under DDP build
  new BatchNorms without the old ones' hooks), so the wrapper calls
  :meth:`TuningModule.hook_onto` before every forward, which (re)attaches
  any hook the module now at that name lacks (idempotently).

Either way every trainable parameter lives under the wrapper's ``prompts``
and every output path starts at zero, so the tuned backbone computes
exactly what the pretrained one does at step 0. Hooked methods replace no
upstream module, so the upstream parameters, buffers and state-dict keys stay
exactly as loaded; a hook is a bound method of the trainable layer, so
``copy.deepcopy`` of the backbone hooks each copied frozen layer to the copied
trainable layer. The frozen-aware fast paths of ResNet and MobileNetV2 never
call the modules of a block, so they are skipped for blocks with hooks (see
``PromptedResNetMixin._is_plain_block``,
``PromptedMobileNetV2Mixin._plain_layers``); the hooks are back on before
that check runs.

The argument checks the methods share (:func:`hidden_width`,
:func:`check_kernel_size`, :func:`check_positive_int`,
:func:`check_positive_number`) raise a ``ValueError`` naming the
``prompt_cfg`` field and what is allowed.
"""
import inspect
from typing import (Callable, Dict, List, Optional, Sequence, Set, Tuple,
                    Union)

import torch
import torch.nn as nn
from mmengine.model import BaseModule

#: Width of the bottleneck when neither ``hidden_channels`` nor
#: ``hidden_ratio`` is given.
DEFAULT_HIDDEN_CHANNELS = 64


def check_positive_int(value: int, field: str) -> None:
    """Raise unless ``value`` (``prompt_cfg.<field>``) is an int > 0 (a bool
    is not)."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f'prompt_cfg.{field} must be an int > 0, got '
                         f'{value!r}')


def check_positive_number(value: float, field: str) -> None:
    """Raise unless ``value`` (``prompt_cfg.<field>``) is a number > 0."""
    if not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f'prompt_cfg.{field} must be a number > 0, got '
                         f'{value!r}')


def check_kernel_size(kernel_size: int, field: str = 'kernel_size') -> None:
    """Raise unless ``kernel_size`` (``prompt_cfg.<field>``) is an odd int >
    0, which keeps the spatial size with ``padding=kernel_size // 2``."""
    if not isinstance(kernel_size, int) or kernel_size <= 0 \
            or kernel_size % 2 == 0:
        raise ValueError(f'prompt_cfg.{field} must be an odd int > 0 '
                         f'(the prompt keeps the spatial size), got '
                         f'{kernel_size!r}')


class MultiScaleDepthwise(nn.Module):
    """Depth-wise convolutions of several odd sizes side by side, averaged:
    ``mean_k(conv_k(x))``, (N, C, H, W) -> (N, C, ceil(H / stride),
    ceil(W / stride)).

    Args:
        channels (int): Channels C.
        kernel_sizes (Sequence[int]): Odd kernel sizes, e.g. ``(3, 5, 7)``.
        stride (int): Stride of every conv. Default: 1.
    """

    def __init__(self,
                 channels: int,
                 kernel_sizes: Sequence[int],
                 stride: int = 1):
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(
                channels,
                channels,
                k,
                stride=stride,
                padding=k // 2,
                groups=channels) for k in kernel_sizes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sum(conv(x) for conv in self.convs) / len(self.convs)


def depthwise(channels: int,
              kernel_size: Union[int, Sequence[int]],
              stride: int = 1) -> nn.Module:
    """The depth-wise layer of a prompt block or a Mona layer: one
    ``nn.Conv2d`` for an int ``kernel_size``, a :class:`MultiScaleDepthwise`
    for a sequence of them (``prompt_cfg.kernel_size``; each size odd, so at
    stride 1 the map keeps its size)."""
    if isinstance(kernel_size, int) and not isinstance(kernel_size, bool):
        check_kernel_size(kernel_size)
        return nn.Conv2d(
            channels,
            channels,
            kernel_size,
            stride=stride,
            padding=kernel_size // 2,
            groups=channels)
    if isinstance(kernel_size, str) or not isinstance(kernel_size, Sequence) \
            or not kernel_size:
        raise ValueError(
            'prompt_cfg.kernel_size must be an odd int > 0 or a non-empty '
            f'list of them (multi-scale), got {kernel_size!r}')
    if len(set(kernel_size)) != len(kernel_size):
        raise ValueError(f'prompt_cfg.kernel_size={list(kernel_size)} '
                         'repeats a size; allowed: distinct odd ints > 0')
    for k in kernel_size:
        check_kernel_size(k)
    return MultiScaleDepthwise(channels, kernel_size, stride)


def depthwise_convs(layer: nn.Module) -> Tuple[nn.Conv2d, ...]:
    """The convolutions of a :func:`depthwise` layer, in build order."""
    return tuple(layer.convs) if isinstance(layer, MultiScaleDepthwise) \
        else (layer, )


def hidden_width(in_channels: int, hidden_channels: Optional[int],
                 hidden_ratio: Optional[float]) -> int:
    """The bottleneck width from exactly one of its two spellings.

    Args:
        in_channels (int): Channels C the bottleneck reduces.
        hidden_channels (int, optional): The width itself.
        hidden_ratio (float, optional): The width as a fraction of C
            (rounded, at least 1).

    Returns:
        int: The width; :data:`DEFAULT_HIDDEN_CHANNELS` when neither is
        given.
    """
    if hidden_channels is not None and hidden_ratio is not None:
        raise ValueError('prompt_cfg: give either hidden_channels or '
                         f'hidden_ratio, not both (got {hidden_channels} and '
                         f'{hidden_ratio})')
    if hidden_ratio is not None:
        check_positive_number(hidden_ratio, 'hidden_ratio')
        return max(1, round(in_channels * hidden_ratio))
    if hidden_channels is None:
        return DEFAULT_HIDDEN_CHANNELS
    check_positive_int(hidden_channels, 'hidden_channels')
    return hidden_channels


#: Key in ``HookedMethod.layers`` of a layer that targets the stage itself
#: (``nn.ModuleDict`` takes no empty key).
STAGE_KEY = 'stage'


def member_name(block_name: str, name: str) -> str:
    """``'<block_name>.<name>'``, leaving out an empty part (a stage that is
    one block, or the block itself): no leading or trailing dot, so
    ``stage.get_submodule`` finds it."""
    return '.'.join(part for part in (block_name, name) if part)


def hook_specs(layer: nn.Module,
               target: nn.Module) -> List[Tuple[nn.Module, Callable, bool]]:
    """The hooks that attach the trainable ``layer`` to its frozen
    ``target``: ``(module, hook, is_pre_hook)`` triples. A layer with more
    than its ``forward_hook`` on the target (e.g. Mona's Swin layers) defines
    its own ``hook_specs(target)``."""
    own = getattr(layer, 'hook_specs', None)
    if own is not None:
        return own(target)
    return [(target, layer.forward_hook, False)]


def ensure_hooks(layer: nn.Module, target: nn.Module) -> None:
    """Register each hook of :func:`hook_specs` that its module does not
    carry yet; idempotent (a bound method equals another of the same
    function and the same object)."""
    for module, hook, pre in hook_specs(layer, target):
        hooks = module._forward_pre_hooks if pre else module._forward_hooks
        if any(h == hook for h in hooks.values()):
            continue
        if pre:
            module.register_forward_pre_hook(hook)
        else:
            module.register_forward_hook(hook)


class TuningModule(BaseModule):
    """What a backbone wrapper asks of a ``prompt_cfg.type``.

    The wrapper (``backbone`` below) offers ``family`` (``'resnet'``,
    ``'swin'``, ``'vit'`` or ``'mobilenetv2'``), ``stage_layout`` (``'map'`` or ``'token'``),
    ``stage_channels()`` and ``stage_modules()``.

    Attributes:
        method_name (str): The method's name in every CLI and table (e.g.
            ``tools/report.py --methods``).
        built_args (tuple[str]): Constructor arguments that
            :meth:`build_for_stage` supplies; they are not ``prompt_cfg``
            fields.
    """
    method_name: str = ''
    built_args: Tuple[str, ...] = ()

    @classmethod
    def mismatch(cls, backbone: nn.Module) -> Optional[str]:
        """Why the class cannot tune ``backbone`` (a phrase that follows
        ``prompt_cfg.type=...``), or None when it can."""
        raise NotImplementedError

    @classmethod
    def applies_to(cls, backbone: nn.Module) -> bool:
        """Whether the class can tune ``backbone``."""
        return cls.mismatch(backbone) is None

    @classmethod
    def cfg_fields(cls) -> Set[str]:
        """The ``prompt_cfg`` fields the class takes: its constructor
        arguments except :attr:`built_args`."""
        return set(inspect.signature(cls).parameters) - set(cls.built_args)

    @classmethod
    def build_for_stage(cls, backbone: nn.Module, stage_index: int,
                        **cfg) -> 'TuningModule':
        """The module that tunes stage ``stage_index`` of ``backbone``, with
        the ``prompt_cfg`` fields ``cfg``."""
        raise NotImplementedError

    def hook_onto(self, stage: nn.Module) -> None:
        """Make sure the modules of ``stage`` (the stage this module tunes,
        as it is now) carry this module's hooks. Called by the wrapper before
        every forward; nothing to do for a module without hooks."""


class StageBlock(TuningModule):
    """A block that the wrapper calls at the end of each tuned stage.

    Built with the stage's output channels (``in_channels``), it maps the
    stage output x to a prompt of the same shape; the wrapper returns
    ``x + block(x, *args)`` as the stage output (``args``: e.g. the token
    grid's ``hw_shape``).

    Attributes:
        input_layout (str): ``'map'`` for (N, C, H, W) inputs, ``'token'``
            for (N, L, C) inputs with an ``hw_shape``; the block applies to
            backbones whose ``stage_layout`` it is.
    """
    built_args = ('in_channels', )
    input_layout: str = ''

    @classmethod
    def mismatch(cls, backbone: nn.Module) -> Optional[str]:
        if cls.input_layout == backbone.stage_layout:
            return None
        return (f'takes {cls.input_layout!r} inputs but this backbone feeds '
                f'{backbone.stage_layout!r} inputs')

    @classmethod
    def build_for_stage(cls, backbone: nn.Module, stage_index: int,
                        **cfg) -> 'StageBlock':
        return cls(in_channels=backbone.stage_channels()[stage_index], **cfg)


class HookedMethod(TuningModule):
    """A PEFT method that hooks onto layers of a frozen stage.

    Subclasses find their targets in ``stage`` and call :meth:`_attach` for
    each; the trainable layers are kept in ``self.layers`` under the target's
    name inside the stage (dots replaced by underscores).

    Args:
        stage (nn.Module): The frozen stage (ResNet ``layer{i+1}``, Swin
            ``stages[i]``, MobileNetV2 ``layer{i+1}`` or ``conv2``). It is
            not registered as a child.
        family (str): ``'resnet'``, ``'swin'`` or ``'mobilenetv2'`` (the
            families with hooked methods; none applies to ``'vit'``).

    Attributes:
        families (tuple[str]): Backbone families the method applies to.
    """
    built_args = ('stage', 'family')
    families: Tuple[str, ...] = ()

    def __init__(self, stage: nn.Module, family: str):
        super().__init__()
        self.layers = nn.ModuleDict()
        #: key in ``self.layers`` -> name of its target in the stage
        self.target_names: Dict[str, str] = {}

    @classmethod
    def mismatch(cls, backbone: nn.Module) -> Optional[str]:
        if backbone.family in cls.families:
            return None
        return (f'applies to {list(cls.families)} backbones, not to '
                f'{backbone.family!r}')

    @classmethod
    def build_for_stage(cls, backbone: nn.Module, stage_index: int,
                        **cfg) -> 'HookedMethod':
        return cls(
            stage=backbone.stage_modules()[stage_index],
            family=backbone.family,
            **cls.stage_args(backbone, stage_index),
            **cfg)

    @classmethod
    def stage_args(cls, backbone: nn.Module, stage_index: int) -> dict:
        """Constructor arguments beyond ``stage`` and ``family`` that
        :meth:`build_for_stage` derives from the backbone (listed in
        :attr:`built_args`). Default: none."""
        return {}

    def forward(self, x: torch.Tensor, *args) -> None:
        """The stage-end call: nothing to add (the method acts through the
        hooks on its layers), so the stage output stays ``x``."""
        return None

    @staticmethod
    def _blocks(stage: nn.Module, family: str) -> Dict[str, nn.Module]:
        """Residual / Swin / inverted residual blocks of ``stage`` by their
        name in it; a stage that is one block (MobileNetV2's ``conv2``, a
        ``ConvModule``) is named ``''`` (join names with
        :func:`member_name`)."""
        if family == 'swin':
            return {f'blocks.{j}': b for j, b in enumerate(stage.blocks)}
        if not isinstance(stage, nn.Sequential):
            return {'': stage}
        return dict(stage.named_children())

    def _attach(self, name: str, target: nn.Module, layer: nn.Module) -> None:
        """Keep ``layer`` under ``name`` (the target's name in the stage,
        ``''`` for the stage itself, kept as :data:`STAGE_KEY`) and hook it
        onto the frozen ``target`` (see :func:`ensure_hooks`)."""
        key = name.replace('.', '_') or STAGE_KEY
        self.layers[key] = layer
        self.target_names[key] = name
        ensure_hooks(layer, target)

    def hook_onto(self, stage: nn.Module) -> None:
        """(Re)attach each layer's hooks to the module now named as its
        target in ``stage``: a module the Runner swapped in (e.g. a reverted
        SyncBN) gets them; one that has them is left as is."""
        for key, name in self.target_names.items():
            ensure_hooks(self.layers[key], stage.get_submodule(name))

    def init_weights(self) -> None:
        """Each layer's own init, whose output path is zero."""
        for layer in self.layers.values():
            layer.reset_parameters()
