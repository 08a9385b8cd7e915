"""Pro-tuning Swin Transformers: a prompt block on the token stream at the end
of each selected stage (or after each of its Swin blocks), registered in
mmdet's and mmseg's ``MODELS`` (mmpretrain's: :mod:`.cls_swin`)."""
from typing import List, Tuple

import torch
from torch.nn.modules.utils import _pair
from mmdet.models.backbones import SwinTransformer as DetSwinTransformer
from mmdet.registry import MODELS as DET_MODELS
from mmseg.models.backbones import SwinTransformer as SegSwinTransformer
from mmseg.registry import MODELS as SEG_MODELS

from .prompted import PromptedBackboneMixin


class PromptedSwinMixin(PromptedBackboneMixin):
    """Swin family: after the blocks of stage ``i``, the (N, L, C_i) tokens
    get a prompt added, before both the output norm ``norm{i}`` and the
    patch merging into stage ``i+1`` (``prompt_cfg.placement='block'``:
    each Swin block's output gets its own prompt). The prompt is
    ``prompt_i(x_in, hw_shape)`` of the tokens ``x_in`` entering the stage
    (after the previous patch merging) or block (``prompt_input='input'``,
    the default; the blocks of a stage keep the shape of their tokens), or
    of the output tokens ``x`` themselves, ``x + prompt_i(x, hw_shape)``
    (``'output'``).

    The output norms ``norm{i}`` are new layers of the dense-prediction
    backbone (an ImageNet checkpoint has none), so a pretrained checkpoint may
    lack them; they keep their (1, 0) init and stay frozen like the rest.

    With ``efficient_backward`` the frozen blocks after the first prompt are
    activation-checkpointed, all or the earliest by the preset (see
    :meth:`PromptedBackboneMixin._run_checkpointed_block`).

    Example:
        >>> from mmprotune.models import ProTuneSwinTransformer
        >>> model = ProTuneSwinTransformer(
        ...     embed_dims=16, depths=(1, 1), num_heads=(1, 2),
        ...     out_indices=(0, 1), strides=(4, 2))
        >>> [tuple(o.shape) for o in model(torch.rand(1, 3, 64, 64))]
        [(1, 16, 16, 16), (1, 32, 8, 8)]
    """
    default_prompt_type = 'TokenPromptBlock'
    superseded_args = dict(
        frozen_stages='all stages', drop_path_rate=0.0, drop_rate=0.0,
        attn_drop_rate=0.0)
    family = 'swin'
    stage_layout = 'token'
    #: Whether a stage's output is taken after its patch merging (an
    #: argument of mmpretrain's Swin only; the prompt is added before it).
    out_after_downsample = False

    def stage_channels(self) -> List[int]:
        return [stage.blocks[0].norm1.normalized_shape[0]
                for stage in self.stages]

    def stage_modules(self) -> List[torch.nn.Module]:
        return list(self.stages)

    def blocks_in_stage(self, stage: int) -> List[torch.nn.Module]:
        return list(self.stages[stage].blocks)

    def block_sizes(self) -> List[float]:
        """Tokens x channels of each block relative to stage 0's: a patch
        merging of stride s divides the tokens by s**2 (4; the channels
        double), so a block saves half of what one of the stage before
        saves."""
        sizes, tokens = [], 1.0
        for stage, channels in zip(self.stages, self.stage_channels()):
            sizes += [tokens * channels] * len(stage.blocks)
            if stage.downsample:
                tokens /= _pair(stage.downsample.sampler.stride)[0]**2
        return sizes

    def _run_stage_block(self, stage: int, index: int,
                         block: torch.nn.Module, x: torch.Tensor,
                         hw_shape: Tuple[int, int]) -> torch.Tensor:
        """Block ``index`` of stage ``stage``, by its index over the whole
        backbone for :meth:`_run_checkpointed_block`."""
        first = sum(len(s.blocks) for s in self.stages[:stage])
        return self._run_checkpointed_block(first + index, block, x, hw_shape)

    def _optional_pretrained_keys(self) -> Tuple[str, ...]:
        return tuple(f'norm{i}.{p}' for i in self.out_indices
                     for p in ('weight', 'bias'))

    def _total_stride(self) -> int:
        stride = _pair(self.patch_embed.projection.stride)[0]
        for stage in self.stages:
            if stage.downsample:
                stride *= _pair(stage.downsample.sampler.stride)[0]
        return stride

    def _embed(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        """(N, 3, H, W) images -> the (N, L, C) tokens entering stage 0 and
        their grid ``hw_shape``."""
        x, hw_shape = self.patch_embed(x)
        if self.use_abs_pos_embed:
            x = x + self.absolute_pos_embed
        return self.drop_after_pos(x), hw_shape

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        """(N, 3, H, W) images -> (N, C_i, H_i, W_i) for ``out_indices``."""
        self._check_input_size(x)
        x, hw_shape = self._embed(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x = self._run_stage(i, x, hw_shape)
            out, out_hw_shape = x, hw_shape
            if stage.downsample:
                x, hw_shape = stage.downsample(x, hw_shape)
                if self.out_after_downsample:
                    out, out_hw_shape = x, hw_shape
            if i in self.out_indices:
                out = getattr(self, f'norm{i}')(out)
                outs.append(
                    out.view(-1, *out_hw_shape,
                             self.num_features[i]).permute(0, 3, 1,
                                                           2).contiguous())
        return outs


@DET_MODELS.register_module()
class ProTuneSwinTransformer(PromptedSwinMixin, DetSwinTransformer):
    """mmdet's ``SwinTransformer``, frozen, with Pro-tuning prompt blocks.

    Args:
        prompt_cfg (dict, optional): See :class:`PromptedBackboneMixin`.
        **kwargs: Every argument of ``mmdet.models.backbones.SwinTransformer``.
    """


@SEG_MODELS.register_module(name='ProTuneSwinTransformer')
class SegProTuneSwinTransformer(PromptedSwinMixin, SegSwinTransformer):
    """mmseg's ``SwinTransformer``, frozen, with Pro-tuning prompt blocks
    (registered in mmseg as ``ProTuneSwinTransformer``).

    Args:
        prompt_cfg (dict, optional): See :class:`PromptedBackboneMixin`.
        **kwargs: Every argument of ``mmseg.models.backbones.SwinTransformer``.
    """
