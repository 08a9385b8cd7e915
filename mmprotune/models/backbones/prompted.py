"""The part shared by every prompted backbone: validate ``prompt_cfg``, freeze
the wrapped backbone, add the tuning modules, keep frozen layers in eval mode
and check that pretrained weights really fill the wrapped backbone.

A family (ResNet, Swin, ViT) only says its name (``family``), the layout of its
stage outputs (``stage_layout``), what its stages are, hold and output
(:meth:`PromptedBackboneMixin.stage_modules`,
:meth:`PromptedBackboneMixin.blocks_in_stage`,
:meth:`PromptedBackboneMixin.stage_channels`), what enters them
(:meth:`PromptedBackboneMixin.stage_source`) and how one of their blocks runs
(:meth:`PromptedBackboneMixin._run_stage_block`); its ``forward`` runs each
stage with its prompts through :meth:`PromptedBackboneMixin._run_stage`.

``prompt_cfg.type`` names a :class:`~mmprotune.models.peft.TuningModule`:
Pro-tuning's prompt blocks (stage blocks, called at the stage ends) or a PEFT
baseline (hooked methods, acting on frozen layers inside the stages). The
wrapper asks the class whether it applies and to build itself for each tuned
stage; either way every trainable parameter lives under ``self.prompts`` and
the upstream modules and their state-dict keys stay as they are.
"""
import inspect
from typing import (Dict, FrozenSet, Iterator, List, NamedTuple, Optional,
                    Sequence, Tuple, Union)

import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint
from mmengine.config import ConfigDict
from mmengine.logging import print_log

from mmprotune.registry import MODELS
from ..peft.base import StageBlock, TuningModule

#: ``prompt_cfg`` fields of prompt blocks (:class:`StageBlock`) only, with
#: their values, the default first (chosen by the design study of
#: docs/transfer_benchmark.md):
#:
#: - ``placement``: a prompt at the end of each tuned stage, or after each of
#:   its blocks (the last block's output is the stage end, so ``'block'``
#:   includes the stage ends);
#: - ``prompt_input``: the prompt is computed from the features entering the
#:   stage (``placement='stage'``) or block (``'block'``), ``f(x) +
#:   prompt(x)``, or from the features it is added to, ``y + prompt(y)``.
PROMPT_VARIANTS = dict(
    placement=('stage', 'block'), prompt_input=('input', 'output'))
#: ``prompt_cfg`` fields read by the wrapper itself; every other field is an
#: argument of the tuning module class (:meth:`TuningModule.cfg_fields`).
WRAPPER_FIELDS = ('type', 'stages', *PROMPT_VARIANTS)


class BackwardPreset(NamedTuple):
    """What a preset of ``efficient_backward`` does with the layers that must
    pass a gradient to an earlier prompt (the frozen ResNet layers always
    take the fast path of :mod:`~mmprotune.models.backbones.frozen_ops`).

    Attributes:
        checkpoint_prompts (bool): Activation-checkpoint the prompt blocks
            (keep their input only, recompute their hidden maps).
        checkpoint_share (float): Activation-checkpoint the frozen
            transformer blocks (Swin, ViT) that pass a gradient, the
            earliest first, until their relative sizes
            (:meth:`PromptedBackboneMixin.block_sizes`) reach this share of
            all such blocks' sizes: 1 all of them, 0 none (plain autograd
            keeps their activations). What a block saves grows with its
            tokens x channels while its recomputation costs about the same
            in every Swin stage, so the earliest blocks drop the most bytes
            per second of recomputation.
    """
    checkpoint_prompts: bool
    checkpoint_share: float


#: The presets of ``efficient_backward`` (``True`` is ``'memory'``), from
#: the least memory to the least time; docs/cost_report.md measures them.
BACKWARD_PRESETS = {
    'memory': BackwardPreset(checkpoint_prompts=True, checkpoint_share=1.0),
    'balanced': BackwardPreset(checkpoint_prompts=False,
                               checkpoint_share=0.5),
    'speed': BackwardPreset(checkpoint_prompts=False, checkpoint_share=0.0),
}


def backward_preset(owner: str,
                    value: Union[bool, str]) -> Optional[BackwardPreset]:
    """``efficient_backward`` -> its :class:`BackwardPreset`; None for
    ``False`` (plain autograd). ``owner`` names the backbone in the error
    a value outside ``True``, ``False`` and :data:`BACKWARD_PRESETS` gets."""
    if value is False:
        return None
    name = 'memory' if value is True else value
    if not isinstance(name, str) or name not in BACKWARD_PRESETS:
        raise ValueError(
            f'{owner}: efficient_backward={value!r} is not allowed; allowed: '
            f'{", ".join(map(repr, BACKWARD_PRESETS))}, True (= \'memory\') '
            'or False (plain autograd)')
    return BACKWARD_PRESETS[name]


def _is_tuning_module(obj: object) -> bool:
    """Whether ``obj`` is a tuning module class (the registry also falls
    back to mmengine's, which holds e.g. ``nn.Conv2d``)."""
    return inspect.isclass(obj) and issubclass(obj, TuningModule)


class PromptedBackboneMixin:
    """Turns an upstream backbone class into a Pro-tuning backbone.

    Use it as the first base: ``class ProTuneX(PromptedBackboneMixin, X)``.
    All arguments of ``X`` pass through unchanged; ``prompt_cfg`` adds:

    - ``type`` (str): registered prompt block or PEFT method (see
      :mod:`mmprotune.models.peft`). Default: :attr:`default_prompt_type`.
    - ``stages`` (Sequence[int]): stage indices that are tuned (get a prompt
      block, or the PEFT method's layers). Default: every stage up to the
      last ``out_indices`` stage. A stage after it reaches no output and is
      refused (its parameters would get no gradient). Empty: no prompts, a
      frozen backbone only (the head-only baseline).
    - ``placement`` (str): ``'stage'`` (default): one prompt at the end of
      each tuned stage; ``'block'``: one after every residual block (ResNet)
      / Swin block of each tuned stage, the last of which is the stage end.
      Prompt blocks only: a hooked PEFT method acts inside the stages and
      takes neither field.
    - ``prompt_input`` (str): ``'input'`` (default): a prompt is computed
      from the features entering its stage or block, ``y = f(x) +
      prompt(x)``, a learnt input-dependent path parallel to the frozen
      ``f``; ``'output'``: from the features it is added to, ``y = f(x) +
      prompt(f(x))``. Prompt blocks only; a family may support fewer
      values (:attr:`prompt_variants`, ViT: ``'output'``).
    - the block's own arguments, e.g. ``hidden_channels`` or
      ``hidden_ratio``, ``kernel_size``, ``act_cfg``.

    The prompts of a stage are ``prompts['<stage>']``: the block itself with
    ``placement='stage'`` (state-dict keys ``prompts.<stage>.*``), an
    ``nn.ModuleList`` of one block per stage block with ``'block'``
    (``prompts.<stage>.<block>.*``).

    Every upstream parameter is frozen at build time and every upstream module
    stays in eval mode (frozen BatchNorm statistics, no dropout / drop path),
    whatever ``frozen_stages``/``norm_eval`` say; only ``self.prompts`` trains.

    ``efficient_backward`` (default True, which is ``'memory'``) runs the
    layers after the first prompt so that they keep little alive for
    backward (see each family); a preset of :data:`BACKWARD_PRESETS`
    (``'memory'``, ``'balanced'``, ``'speed'``) trades memory for time;
    False gives plain autograd, for comparison.
    """
    #: Prompt block type used when ``prompt_cfg`` names none.
    default_prompt_type: str = 'ConvPromptBlock'
    #: Upstream arguments this wrapper supersedes, with the value it keeps.
    superseded_args: Dict[str, object] = {}
    #: Backbone family, matched against a PEFT method's ``families``.
    family: str = ''
    #: Layout of the stage outputs, matched against a prompt block's
    #: ``input_layout``: ``'map'`` (N, C, H, W) or ``'token'`` (N, L, C).
    stage_layout: str = ''
    #: The values of each :data:`PROMPT_VARIANTS` field the family
    #: supports, the default first.
    prompt_variants: Dict[str, Tuple[str, ...]] = PROMPT_VARIANTS

    def __init__(self,
                 *args,
                 prompt_cfg: Optional[dict] = None,
                 efficient_backward: Union[bool, str] = True,
                 **kwargs):
        if prompt_cfg is not None and not isinstance(prompt_cfg, dict):
            raise TypeError(f'{type(self).__name__}: prompt_cfg must be a '
                            f'dict (or None), got {prompt_cfg!r}')
        preset = backward_preset(type(self).__name__, efficient_backward)
        super().__init__(*args, **kwargs)
        self.efficient_backward = efficient_backward
        #: The :class:`BackwardPreset` of ``efficient_backward`` (None:
        #: plain autograd).
        self.backward_preset = preset
        #: The first transformer block of the running forward whose input
        #: needs a gradient (see :meth:`_run_checkpointed_block`).
        self._first_grad_block: Optional[int] = None
        if isinstance(self.init_cfg, dict):
            # upstream Swin reads ``init_cfg.checkpoint`` as an attribute
            self.init_cfg = ConfigDict(self.init_cfg)
        self.freeze_backbone()
        # the tuning modules (prompt blocks or a PEFT method's layers) keep
        # the name ``prompts``: it is the state-dict prefix of every delta
        # checkpoint and the key configs give paramwise_cfg.custom_keys
        # (docs/design.md, "Names")
        self.prompts = self._build_tuning_modules(prompt_cfg or {})
        self.register_forward_pre_hook(self._hook_tuning_modules)
        self._log_overrides(kwargs)
        self._log_trainable()

    def freeze_backbone(self) -> None:
        """Freeze the wrapped backbone before the prompts are added: no
        upstream parameter needs a gradient, and every upstream module is in
        eval mode from the start (:meth:`train` keeps it so)."""
        self.requires_grad_(False)
        self.train(self.training)

    # ------------------------------------------------------------------
    # to be provided by a family
    def stage_channels(self) -> List[int]:
        """Channels of each stage's output, in stage order."""
        raise NotImplementedError

    def stage_modules(self) -> List[nn.Module]:
        """The upstream module of each stage, in stage order."""
        raise NotImplementedError

    def blocks_in_stage(self, stage: int) -> List[nn.Module]:
        """The blocks of stage ``stage``, in the order they run."""
        raise NotImplementedError

    def block_sizes(self) -> List[float]:
        """What each frozen transformer block (over the whole backbone, in
        the order they run) saves for backward, relative to the others
        (for :meth:`_checkpoint_plan`). Default: one block per stage, all
        alike (ViT)."""
        return [1.0] * len(self.stage_modules())

    def stage_source(self, stage: int) -> Tuple[int, int]:
        """(channels, stride) of the features entering stage ``stage`` (and
        its first block): their channels, and their spatial size over the
        stage output's. Default: those of the stage output, stride 1."""
        return self.stage_channels()[stage], 1

    def _run_stage_block(self, stage: int, index: int, block: nn.Module,
                         x: torch.Tensor, *args) -> torch.Tensor:
        """Run block ``index`` of stage ``stage`` on ``x`` (``args``: e.g.
        ``hw_shape``)."""
        raise NotImplementedError

    # ------------------------------------------------------------------
    def _build_tuning_modules(self, prompt_cfg: dict) -> nn.ModuleDict:
        """``prompt_cfg`` -> the tuning module of each tuned stage, built by
        its class (:meth:`TuningModule.build_for_stage`), by stage index."""
        name = type(self).__name__
        cfg = dict(prompt_cfg)
        block_type = cfg.pop('type', self.default_prompt_type)
        if inspect.isclass(block_type):  # mmengine's pure-Python configs
            block_cls = block_type
        elif isinstance(block_type, str):
            block_cls = MODELS.get(block_type)
        else:
            block_cls = None
        # the registry falls back to mmengine's, which holds e.g. 'Conv2d'
        if not _is_tuning_module(block_cls):
            raise ValueError(
                f'{name}: prompt_cfg.type={block_type!r} is not a registered '
                f'tuning module; allowed: {sorted(MODELS.module_dict)}')
        mismatch = block_cls.mismatch(self)
        if mismatch is not None:
            raise ValueError(
                f'{name}: prompt_cfg.type={block_type!r} {mismatch}; allowed: '
                f'{self._allowed_types()}')

        num_stages = len(self.stage_modules())
        last = self.last_output_stage()
        if 'stages' in cfg:
            stages = cfg.pop('stages')
            self._check_stages(stages, num_stages)
            self._check_stages_reach_output(stages, last)
        else:
            stages = tuple(range(last + 1))
            if last < num_stages - 1:
                print_log(
                    f'{name}: prompt_cfg.stages not given: tuning stages '
                    f'{list(stages)}, the ones that reach an output (the '
                    f'last out_indices stage is {last}, out_indices='
                    f'{tuple(self.out_indices)})',
                    logger='current')

        #: ``prompt_cfg.placement`` and ``prompt_cfg.prompt_input`` (None
        #: for a hooked method, which takes neither)
        self.placement, self.prompt_input = (
            self._variant(cfg, field, block_type, block_cls)
            for field in PROMPT_VARIANTS)
        block_args = block_cls.cfg_fields()
        unknown = sorted(set(cfg) - block_args)
        if unknown:
            fields = set(WRAPPER_FIELDS)
            if not issubclass(block_cls, StageBlock):
                fields -= set(PROMPT_VARIANTS)  # refused by _variant
            raise ValueError(
                f'{name}: unknown prompt_cfg field(s) {unknown}; allowed: '
                f'{sorted(fields | block_args)}')
        #: the class name of the tuning modules, e.g. ``'LoRA'``
        self.tuning_type = block_cls.__name__
        return nn.ModuleDict({
            str(i): self._build_stage_tuning(block_cls, i, cfg)
            for i in sorted(stages)
        })

    def _variant(self, cfg: dict, field: str, block_type: object,
                 block_cls: type) -> Optional[str]:
        """Pop ``prompt_cfg.<field>`` (a :data:`PROMPT_VARIANTS` field) and
        check the family supports its value; the family's default if not
        given. None for a tuning module that is no prompt block (a hooked
        PEFT method acts inside the stages, where a prompt's placement and
        input mean nothing): giving the field is refused."""
        name = type(self).__name__
        if not issubclass(block_cls, StageBlock):
            if field in cfg:
                raise ValueError(
                    f'{name}: prompt_cfg.{field}={cfg[field]!r} applies to '
                    f'prompt blocks only, but prompt_cfg.type={block_type!r} '
                    'hooks into the frozen layers of each stage; allowed '
                    f'with it: no {field}')
            return None
        supported = self.prompt_variants[field]
        value = cfg.pop(field, supported[0])
        if not isinstance(value, str) or value not in supported:
            note = '' if value not in PROMPT_VARIANTS[field] else (
                f' ({value!r} is for the ResNet and Swin wrappers only)')
            raise ValueError(
                f'{name}: prompt_cfg.{field}={value!r} is not allowed; '
                f'allowed: {", ".join(map(repr, supported))}{note}')
        return value

    def _build_stage_tuning(self, block_cls: type, stage: int,
                            cfg: dict) -> nn.Module:
        """The tuning module of stage ``stage`` (``placement='stage'``), or
        a list of one prompt block per stage block (``'block'``)."""
        if self.placement != 'block':
            return block_cls.build_for_stage(
                self, stage, **cfg, **self._source_args(block_cls, stage, 0))
        return nn.ModuleList(
            block_cls.build_for_stage(
                self, stage, **cfg, **self._source_args(block_cls, stage, j))
            for j in range(len(self.blocks_in_stage(stage))))

    def _source_args(self, block_cls: type, stage: int, index: int) -> dict:
        """Build arguments of the prompt block after block ``index`` of
        stage ``stage`` (0 for the stage's prompt) that is computed from
        features of another shape than those it is added to
        (``prompt_input='input'`` where a stage changes the shape: the
        stage's input, which its first block takes); none otherwise."""
        if self.prompt_input != 'input' or index > 0:
            return {}
        channels, stride = self.stage_source(stage)
        if (channels, stride) == (self.stage_channels()[stage], 1):
            return {}
        args = dict(source_channels=channels, stride=stride)
        if not set(args) <= set(inspect.signature(block_cls).parameters):
            raise ValueError(
                f"{type(self).__name__}: prompt_cfg.prompt_input='input' "
                f'computes the prompt of stage {stage} from {channels} '
                f'channels at stride {stride}, which '
                f'{block_cls.__name__} cannot take (it has no arguments '
                f'{sorted(args)}); allowed: prompt_input="output", or a '
                'prompt block with them (ConvPromptBlock)')
        return args

    def tuning_modules(self) -> Iterator[Tuple[str, nn.Module]]:
        """``(name, module)`` of every tuning module, ``name`` its key under
        ``prompts``: ``'<stage>'``, or ``'<stage>.<block>'`` with
        ``placement='block'``."""
        for key, entry in self.prompts.items():
            if isinstance(entry, nn.ModuleList):
                for j, block in enumerate(entry):
                    yield f'{key}.{j}', block
            else:
                yield key, entry

    def _allowed_types(self) -> List[str]:
        """Registered prompt blocks and PEFT methods for this backbone."""
        return sorted(n for n, c in MODELS.module_dict.items()
                      if _is_tuning_module(c) and c.applies_to(self))

    def _check_stages(self, stages: Sequence[int], num_stages: int) -> None:
        name = type(self).__name__
        allowed = f'distinct ints in [0, {num_stages - 1}]'
        if isinstance(stages, (int, str)) or not isinstance(stages, Sequence):
            raise ValueError(f'{name}: prompt_cfg.stages must be a list of '
                             f'{allowed}, got {stages!r}')
        for i in stages:
            if not isinstance(i, int) or not 0 <= i < num_stages:
                raise ValueError(f'{name}: prompt_cfg.stages has {i!r}; '
                                 f'allowed: {allowed}')
        if len(set(stages)) != len(stages):
            raise ValueError(f'{name}: prompt_cfg.stages={list(stages)} '
                             f'repeats a stage; allowed: {allowed}')
        if not stages:
            print_log(
                f'{name}: prompt_cfg.stages is empty, so no tuning modules: '
                'the backbone is frozen as is (the head-only baseline)',
                logger='current')

    def last_output_stage(self) -> int:
        """The last stage whose output the backbone returns (a later stage
        reaches no output); the last stage without ``out_indices``."""
        out_indices = getattr(self, 'out_indices', None)
        if not out_indices:
            return len(self.stage_modules()) - 1
        return max(out_indices)

    def _check_stages_reach_output(self, stages: Sequence[int],
                                   last: int) -> None:
        """Refuse tuned stages after the last output stage: nothing they
        compute reaches an output, so their parameters never get a gradient
        (and DDP with ``find_unused_parameters=False`` fails on them)."""
        after = sorted(i for i in stages if i > last)
        if after:
            raise ValueError(
                f'{type(self).__name__}: prompt_cfg.stages={list(stages)} '
                f'tunes stage(s) {after} after the last output stage {last} '
                f'({self._output_note()}): nothing they compute reaches an '
                'output, so their parameters would get no gradient; allowed: '
                f'stages in [0, {last}] (or add the stage to out_indices)')

    def _output_note(self) -> str:
        """What decides :meth:`last_output_stage`, for its error
        messages."""
        return f'out_indices={tuple(self.out_indices)}'

    def _total_stride(self) -> int:
        """Downsampling factor from the image to the last stage's output."""
        raise NotImplementedError

    def _checkpoint_plan(self, first: int) -> FrozenSet[int]:
        """The blocks the preset checkpoints when block ``first`` is the
        first whose input needs a gradient: from it on, the earliest blocks
        while the :meth:`block_sizes` taken so far are below
        ``checkpoint_share`` of the sizes of all blocks from ``first``."""
        share = self.backward_preset.checkpoint_share \
            if self.backward_preset else 0.0
        sizes = self.block_sizes()[first:]
        budget, taken, plan = share * sum(sizes), 0.0, set()
        for index, size in enumerate(sizes, first):
            if taken >= budget:
                break
            plan.add(index)
            taken += size
        return frozenset(plan)

    def _run_checkpointed_block(self, index: int, block: nn.Module,
                                x: torch.Tensor, *args) -> torch.Tensor:
        """Frozen transformer block number ``index`` (from 0, over the whole
        backbone, run in order from 0 in each forward), ``block(x,
        *args)``. A block that must pass a gradient to an earlier prompt
        and that the preset checkpoints (:meth:`_checkpoint_plan`, from the
        first block of this forward whose input needs a gradient) keeps
        only its input and recomputes its (frozen, deterministic eval-mode)
        forward in backward: attention, softmax, LayerNorm and GELU keep
        nothing alive."""
        if index == 0:  # a new forward
            self._first_grad_block = None
        if not (torch.is_grad_enabled() and x.requires_grad):
            return block(x, *args)
        if self._first_grad_block is None:
            self._first_grad_block = index
        if index in self._checkpoint_plan(self._first_grad_block):
            return checkpoint(block, x, *args, use_reentrant=False)
        return block(x, *args)

    def _check_input_size(self, x: torch.Tensor) -> None:
        """Refuse images smaller than the total stride, whose last stages
        would see nothing but padding."""
        stride = self._total_stride()
        h, w = x.shape[-2:]
        if h < stride or w < stride:
            raise ValueError(
                f'{type(self).__name__}: input of {h}x{w} pixels is smaller '
                f'than the total stride {stride} of the backbone; the minimum '
                f'is {stride}x{stride} (resize or pad the images to at least '
                'that size)')

    def _run_stage(self, stage: int, x: torch.Tensor, *args) -> torch.Tensor:
        """Stage ``stage`` on its input ``x`` (``args``: e.g. ``hw_shape``,
        for the blocks and the prompts): its blocks, with its prompts where
        ``placement`` puts them, computed from what ``prompt_input``
        says."""
        prompts = self.prompts[str(stage)] if str(stage) in self.prompts \
            else None
        per_block = isinstance(prompts, nn.ModuleList)
        source = x
        for j, block in enumerate(self.blocks_in_stage(stage)):
            out = self._run_stage_block(stage, j, block, x, *args)
            if per_block:
                out = self._add_prompt(f'{stage}.{j}', out, x, *args)
            x = out
        if prompts is not None and not per_block:
            x = self._add_prompt(str(stage), x, source, *args)
        return x

    def _add_prompt(self, key: str, x: torch.Tensor, source: torch.Tensor,
                    *args) -> torch.Tensor:
        """Add the prompt ``prompts.<key>`` (``'<stage>'`` or
        ``'<stage>.<block>'``) to the output ``x`` of its stage or block; it
        is computed from ``x`` or, with ``prompt_input='input'``, from
        ``source``, what entered the stage or block. ``args`` go to the
        block (e.g. ``hw_shape`` for tokens). A module that returns None adds
        nothing (a hooked method: it acts inside the stage).

        With a preset that checkpoints prompts (``'memory'``) the block
        keeps only its input (which its first projection needs anyway) and
        recomputes its small hidden maps in backward.
        """
        block = self.prompts.get_submodule(key)
        if self.prompt_input != 'input':
            source = x
        if self.backward_preset and self.backward_preset.checkpoint_prompts \
                and torch.is_grad_enabled():
            prompt = checkpoint(block, source, *args, use_reentrant=False)
        else:
            prompt = block(source, *args)
        if prompt is None:
            return x
        if prompt.shape != x.shape:
            stage, *index = key.split('.')
            where = f'stage {stage}' + ''.join(f', block {j}' for j in index)
            raise ValueError(
                f'{type(self).__name__}: the prompt block of {where} '
                f'({type(block).__name__}) returned shape '
                f'{tuple(prompt.shape)} for an input of shape '
                f'{tuple(source.shape)}; a prompt must have the shape of the '
                f'features it is added to, {tuple(x.shape)}')
        return x + prompt

    def _hook_tuning_modules(self, module: nn.Module, args: tuple) -> None:
        """Forward pre-hook of the wrapper: before the stages run (and before
        ResNet's fast path looks for hooks), every tuning module checks that
        the modules of its stage, as they are now, carry its hooks. The
        Runner may have swapped modules since the build (SyncBN reverted to
        BN in one process, BN converted to SyncBN for ``sync_bn``), and the
        new ones start without hooks."""
        stages = self.stage_modules()
        for index, block in self.prompts.items():
            hook_onto = getattr(block, 'hook_onto', None)  # a block of one's
            if hook_onto is not None:  # own may be a plain nn.Module
                hook_onto(stages[int(index)])

    # ------------------------------------------------------------------
    def train(self, mode: bool = True):
        """Set ``mode`` on the prompts; every upstream module stays in eval."""
        super().train(mode)
        for child_name, child in self.named_children():
            if child_name != 'prompts':
                child.eval()
        return self

    def init_weights(self) -> None:
        """Upstream init (e.g. pretrained loading) without the prompts, a
        check that a pretrained checkpoint filled every upstream weight, then
        the prompts' own init (zero output)."""
        prompts = self._modules.pop('prompts')
        offered: Dict[str, torch.Size] = {}

        def record(state_dict, prefix, *args):
            offered.update((k[len(prefix):], v.shape)
                           for k, v in state_dict.items()
                           if k.startswith(prefix) and hasattr(v, 'shape'))

        handle = self._register_load_state_dict_pre_hook(record)
        try:
            super().init_weights()
        except Exception as err:
            checkpoint = self.pretrained_checkpoint
            if checkpoint is None:
                raise
            raise ValueError(
                f'{type(self).__name__}: loading init_cfg.checkpoint='
                f'{checkpoint!r} failed: {type(err).__name__}: {err}') \
                from err
        finally:
            handle.remove()
            self._modules['prompts'] = prompts
        if self.pretrained_checkpoint is not None:
            self._check_pretrained(offered)
        for _, block in self.tuning_modules():
            block.init_weights()

    @property
    def pretrained_checkpoint(self) -> Optional[str]:
        """The checkpoint (path or URL) of a ``Pretrained`` init_cfg, which
        mmseg's ``model.pretrained`` becomes as well; ``None`` without one."""
        cfg = self.init_cfg
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            return cfg.get('checkpoint')
        return None

    def _optional_pretrained_keys(self) -> Tuple[str, ...]:
        """Upstream keys that a pretrained checkpoint may lack (layers that
        are not part of the pretrained network). Default: none."""
        return ()

    def _check_pretrained(self, offered: Dict[str, torch.Size]) -> None:
        """Raise if the checkpoint left a floating-point upstream weight
        unfilled or offered it with another shape."""
        name = type(self).__name__
        expected = {
            k: v.shape
            for k, v in self.state_dict().items()
            if not k.startswith('prompts.') and v.is_floating_point()
        }
        optional = set(self._optional_pretrained_keys())
        missing = sorted(k for k in expected
                         if k not in offered and k not in optional)
        mismatched = sorted(
            f'{k}: checkpoint {tuple(offered[k])} vs model {tuple(v)}'
            for k, v in expected.items()
            if k in offered and offered[k] != v)
        if missing or mismatched:
            problems = []
            if missing:
                problems.append(f'{len(missing)} missing key(s) '
                                f'{missing[:5]}')
            if mismatched:
                problems.append(f'{len(mismatched)} key(s) with another '
                                f'shape {mismatched[:5]}')
            raise ValueError(
                f'{name}: init_cfg.checkpoint={self.pretrained_checkpoint!r}'
                f' does not fit the backbone: {"; ".join(problems)}. Use a '
                'checkpoint of this architecture (for a detector or '
                "segmentor checkpoint add init_cfg.prefix='backbone.').")
        unused = sorted(set(offered) - set(self.state_dict()))
        fresh = sorted(optional - set(offered))
        print_log(
            f'{name}: pretrained weights filled all {len(expected)} frozen '
            f'tensors; unused checkpoint keys: {len(unused)} {unused[:5]}; '
            f'newly initialised (not in the checkpoint): {fresh}',
            logger='current')

    # ------------------------------------------------------------------
    def _log_overrides(self, kwargs: dict) -> None:
        notes = [
            f'{key}={kwargs[key]!r} -> {kept}'
            for key, kept in self.superseded_args.items()
            if key in kwargs and kwargs[key] != kept
        ]
        if notes:
            print_log(
                f'{type(self).__name__} freezes the whole wrapped backbone '
                f'and keeps it in eval mode, superseding: {"; ".join(notes)}',
                logger='current')

    def _log_trainable(self) -> None:
        total = sum(p.numel() for p in self.parameters())
        trainable = sum(p.numel() for p in self.parameters()
                        if p.requires_grad)
        print_log(
            f'{type(self).__name__}: {trainable:,} trainable '
            f'({self.tuning_type}) of '
            f'{total:,} backbone parameters ({100 * trainable / total:.2f}%)',
            logger='current')
