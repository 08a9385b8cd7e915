"""The part shared by every prompted backbone: validate ``prompt_cfg``, freeze
the wrapped backbone, add the prompt blocks, keep frozen layers in eval mode
and check that pretrained weights really fill the wrapped backbone.

A family (ResNet, Swin) only says its name (``family``), what its stages are
and output (:meth:`PromptedBackboneMixin._stage_modules`,
:meth:`PromptedBackboneMixin._stage_channels`) and where its stages end (its
``forward`` calls :meth:`PromptedBackboneMixin._add_prompt`).

Besides Pro-tuning's stage-end prompt blocks, ``prompt_cfg.type`` may name a
PEFT baseline (:mod:`mmprotune.models.peft_blocks`) that hooks onto frozen
layers inside the stages; either way every trainable parameter lives under
``self.prompts`` and the upstream modules and their state-dict keys stay as
they are.
"""
import inspect
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint
from mmengine.config import ConfigDict
from mmengine.logging import print_log

from mmprotune.registry import MODELS

#: ``prompt_cfg`` fields read by the wrapper itself; every other field is an
#: argument of the prompt block class.
WRAPPER_FIELDS = ('type', 'stages')
#: Where a prompt block class (its ``placement`` attribute) acts, and the
#: arguments the wrapper passes to it there (never read from ``prompt_cfg``):
#: ``'stage'`` blocks get a stage's output channels and are called by the
#: wrapper at the stage end (:meth:`PromptedBackboneMixin._add_prompt`);
#: ``'module'`` methods get the frozen stage module and the backbone family
#: and hook themselves onto layers inside it.
PLACEMENT_ARGS = dict(stage=('in_channels', ), module=('stage', 'family'))


class PromptedBackboneMixin:
    """Turns an upstream backbone class into a Pro-tuning backbone.

    Use it as the first base: ``class ProTuneX(PromptedBackboneMixin, X)``.
    All arguments of ``X`` pass through unchanged; ``prompt_cfg`` adds:

    - ``type`` (str): registered prompt block or PEFT method (see
      :mod:`mmprotune.models.peft_blocks`). Default:
      :attr:`default_prompt_type`.
    - ``stages`` (Sequence[int]): stage indices that are tuned (get a prompt
      block, or the PEFT method's layers). Default: every stage. Empty: no
      prompts, a frozen backbone only (the head-only baseline).
    - the block's own arguments, e.g. ``hidden_channels`` or
      ``hidden_ratio``, ``kernel_size``, ``act_cfg``.

    Every upstream parameter is frozen at build time and every upstream module
    stays in eval mode (frozen BatchNorm statistics, no dropout / drop path),
    whatever ``frozen_stages``/``norm_eval`` say; only ``self.prompts`` trains.

    ``efficient_backward`` (default True) runs the frozen layers after the
    first prompt so that they keep almost nothing alive for backward (see
    each family); False gives plain autograd, for comparison.
    """
    #: Prompt block type used when ``prompt_cfg`` names none.
    default_prompt_type: str = 'ConvPromptBlock'
    #: Upstream arguments this wrapper supersedes, with the value it keeps.
    superseded_args: Dict[str, object] = {}
    #: Backbone family, matched against a PEFT method's ``families``.
    family: str = ''

    def __init__(self,
                 *args,
                 prompt_cfg: Optional[dict] = None,
                 efficient_backward: bool = True,
                 **kwargs):
        if prompt_cfg is not None and not isinstance(prompt_cfg, dict):
            raise TypeError(f'{type(self).__name__}: prompt_cfg must be a '
                            f'dict (or None), got {prompt_cfg!r}')
        super().__init__(*args, **kwargs)
        self.efficient_backward = efficient_backward
        if isinstance(self.init_cfg, dict):
            # upstream Swin reads ``init_cfg.checkpoint`` as an attribute
            self.init_cfg = ConfigDict(self.init_cfg)
        self.requires_grad_(False)
        self.prompts = self._build_prompts(prompt_cfg or {})
        self.train(self.training)  # frozen modules in eval mode from the start
        self._log_overrides(kwargs)
        self._log_trainable()

    # ------------------------------------------------------------------
    # to be provided by a family
    def _stage_channels(self) -> List[int]:
        """Channels of each stage's output, in stage order."""
        raise NotImplementedError

    def _stage_modules(self) -> List[nn.Module]:
        """The upstream module of each stage, in stage order."""
        raise NotImplementedError

    # ------------------------------------------------------------------
    def _build_prompts(self, prompt_cfg: dict) -> nn.ModuleDict:
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
        placement = getattr(block_cls, 'placement', None)
        if placement not in PLACEMENT_ARGS:
            raise ValueError(
                f'{name}: prompt_cfg.type={block_type!r} is not a registered '
                f'prompt block; allowed: {sorted(MODELS.module_dict)}')
        if not self._applies(block_cls):
            if placement == 'stage':
                reason = (f'takes {block_cls.input_layout!r} inputs but this '
                          f'backbone feeds {self._expected_layout()!r} '
                          'inputs')
            else:
                reason = (f'applies to {list(block_cls.families)} backbones, '
                          f'not to {self.family!r}')
            raise ValueError(
                f'{name}: prompt_cfg.type={block_type!r} {reason}; allowed: '
                f'{self._allowed_types()}')

        stage_modules = self._stage_modules()
        stages = cfg.pop('stages', tuple(range(len(stage_modules))))
        self._check_stages(stages, len(stage_modules))

        block_args = set(inspect.signature(block_cls).parameters)
        block_args -= set(PLACEMENT_ARGS[placement])
        unknown = sorted(set(cfg) - block_args)
        if unknown:
            raise ValueError(
                f'{name}: unknown prompt_cfg field(s) {unknown}; allowed: '
                f'{sorted(set(WRAPPER_FIELDS) | block_args)}')
        if placement == 'stage':
            channels = self._stage_channels()
            return nn.ModuleDict({
                str(i): block_cls(in_channels=channels[i], **cfg)
                for i in sorted(stages)
            })
        return nn.ModuleDict({
            str(i): block_cls(
                stage=stage_modules[i], family=self.family, **cfg)
            for i in sorted(stages)
        })

    @classmethod
    def _expected_layout(cls) -> str:
        return MODELS.get(cls.default_prompt_type).input_layout

    @classmethod
    def _applies(cls, block_cls: type) -> bool:
        """Whether the prompt block or PEFT method ``block_cls`` can tune this
        backbone family."""
        if block_cls.placement == 'stage':
            return block_cls.input_layout == cls._expected_layout()
        return cls.family in block_cls.families

    @classmethod
    def _allowed_types(cls) -> List[str]:
        """Registered prompt blocks and PEFT methods for this family."""
        return sorted(
            n for n, c in MODELS.module_dict.items()
            if getattr(c, 'placement', None) in PLACEMENT_ARGS
            and cls._applies(c))

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
                f'{name}: prompt_cfg.stages is empty, so no prompt blocks: '
                'the backbone is frozen as is (the head-only baseline)',
                logger='current')

    def _total_stride(self) -> int:
        """Downsampling factor from the image to the last stage's output."""
        raise NotImplementedError

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

    def _add_prompt(self, stage: int, x: torch.Tensor, *args) -> torch.Tensor:
        """Add stage ``stage``'s prompt to its output ``x`` (if it has one);
        ``args`` go to the block (e.g. ``hw_shape`` for tokens).

        With ``efficient_backward`` the block is activation-checkpointed: it
        keeps only ``x`` (which its first projection needs anyway) and
        recomputes its small hidden maps in backward.
        """
        if str(stage) not in self.prompts:
            return x
        block = self.prompts[str(stage)]
        if getattr(block, 'placement', 'stage') == 'module':
            return x  # a PEFT method: it acts through its hooks
        if self.efficient_backward and torch.is_grad_enabled():
            prompt = checkpoint(block, x, *args, use_reentrant=False)
        else:
            prompt = block(x, *args)
        if prompt.shape != x.shape:
            raise ValueError(
                f'{type(self).__name__}: the prompt block of stage {stage} '
                f'({type(block).__name__}) returned shape '
                f'{tuple(prompt.shape)} for an input of shape '
                f'{tuple(x.shape)}; a prompt must have the shape of its input')
        return x + prompt

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
        for block in self.prompts.values():
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
            f'{type(self).__name__}: {trainable:,} trainable (prompt) of '
            f'{total:,} backbone parameters ({100 * trainable / total:.2f}%)',
            logger='current')
