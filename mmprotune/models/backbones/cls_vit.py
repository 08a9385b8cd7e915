"""Pro-tuning Vision Transformer for mmpretrain, registered in its
``MODELS``: a prompt block on the patch tokens after each selected encoder
layer; imported only where mmpretrain is installed."""
from typing import List, Tuple

import torch
import torch.nn as nn
from torch.nn.modules.utils import _pair
from mmpretrain.models.backbones import VisionTransformer
from mmpretrain.models.utils import resize_pos_embed
from mmpretrain.registry import MODELS as CLS_MODELS

from .prompted import PromptedBackboneMixin


@CLS_MODELS.register_module(name='ProTuneVisionTransformer')
class ClsProTuneVisionTransformer(PromptedBackboneMixin, VisionTransformer):
    """mmpretrain's ``VisionTransformer``, frozen, with Pro-tuning prompt
    blocks (registered in mmpretrain as ``ProTuneVisionTransformer``).

    Stage ``i`` is encoder layer ``layers[i]``. Its output is the class token
    (and any other extra token) followed by the (N, H*W, C) patch tokens of
    the ``hw`` patch grid; the patch tokens get ``x + prompt_i(x, hw)`` (a
    :class:`~mmprotune.models.TokenPromptBlock`, which lays them out on the
    grid for its depth-wise conv), the extra tokens pass unchanged, before
    the final norm ``ln1`` and the next layer. The class token takes the
    prompts in through the next layers' attention.

    So with ``out_type='cls_token'`` (the classification default) a prompt
    after the last output layer would reach no output: the default stages
    end one layer earlier, and naming that layer is refused. With
    ``'featmap'``, ``'avg_featmap'`` or ``'raw'`` every layer up to the last
    output can be tuned. ``ln2`` (the norm of ``'avg_featmap'``) may be
    missing from a pretrained checkpoint (a new layer of a fine-tuning
    config); it keeps its (1, 0) init and stays frozen.

    Family ``'vit'``: the hooked PEFT baselines (written for ResNet and Swin
    layers) do not apply, only the token prompt block. ``prompt_cfg``'s
    ``placement`` and ``prompt_input`` take one value each, ``'stage'`` and
    ``'output'`` (their defaults here): a stage is one encoder layer, so
    ``'stage'`` already puts a prompt after every layer, and
    ``prompt_input='input'`` (the ResNet and Swin default) is not
    implemented here (refused with the allowed values).

    With ``efficient_backward`` the frozen layers after the first prompt are
    activation-checkpointed (see
    :meth:`PromptedBackboneMixin._run_checkpointed_block`).

    Args:
        prompt_cfg (dict, optional): See :class:`PromptedBackboneMixin`.
        **kwargs: Every argument of ``mmpretrain.models.VisionTransformer``.

    Example:
        >>> from mmprotune.models import ClsProTuneVisionTransformer
        >>> model = ClsProTuneVisionTransformer(
        ...     arch=dict(embed_dims=16, num_layers=3, num_heads=2,
        ...               feedforward_channels=32),
        ...     img_size=32, patch_size=8, out_type='cls_token')
        >>> sorted(model.prompts)  # the last layer's would reach no output
        ['0', '1']
        >>> [tuple(o.shape) for o in model(torch.rand(1, 3, 32, 32))]
        [(1, 16)]
    """
    default_prompt_type = 'TokenPromptBlock'
    superseded_args = dict(
        frozen_stages='all stages', drop_path_rate=0.0, drop_rate=0.0)
    family = 'vit'
    stage_layout = 'token'
    prompt_variants = dict(placement=('stage', ), prompt_input=('output', ))

    def stage_channels(self) -> List[int]:
        return [self.embed_dims] * len(self.layers)

    def stage_modules(self) -> List[nn.Module]:
        return list(self.layers)

    def last_output_stage(self) -> int:
        """The last output layer, or the one before it when the output is
        the class token (computed before that layer's prompt)."""
        last = super().last_output_stage()
        return last - 1 if self.out_type == 'cls_token' else last

    def _output_note(self) -> str:
        note = super()._output_note()
        if self.out_type == 'cls_token':
            note += (", out_type='cls_token': the prompt of a layer changes "
                     "its patch tokens only, so the class token of the "
                     'last output layer does not see it')
        return note

    def _optional_pretrained_keys(self) -> Tuple[str, ...]:
        if self.out_type == 'avg_featmap':
            return ('ln2.weight', 'ln2.bias')
        return ()

    def _total_stride(self) -> int:
        return _pair(self.patch_embed.projection.stride)[0]

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """(N, 3, H, W) images -> the ``out_type`` output of each
        ``out_indices`` layer (e.g. (N, C) class tokens)."""
        self._check_input_size(x)
        x, hw = self.patch_embed(x)
        if self.cls_token is not None:
            x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x),
                          dim=1)
        x = x + resize_pos_embed(
            self.pos_embed,
            self.patch_resolution,
            hw,
            mode=self.interpolate_mode,
            num_extra_tokens=self.num_extra_tokens)
        x = self.pre_norm(self.drop_after_pos(x))
        outs = []
        for i, layer in enumerate(self.layers):
            x = self._run_checkpointed_block(i, layer, x)
            if str(i) in self.prompts:
                extra = self.num_extra_tokens
                patches = x[:, extra:]
                x = torch.cat(
                    (x[:, :extra],
                     self._add_prompt(str(i), patches, patches, hw)),
                    dim=1)
            if i == len(self.layers) - 1 and self.final_norm:
                x = self.ln1(x)
            if i in self.out_indices:
                outs.append(self._format_output(x, hw))
        return tuple(outs)
