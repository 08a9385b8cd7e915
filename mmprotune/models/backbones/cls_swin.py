"""Pro-tuning Swin Transformer for mmpretrain, registered in its ``MODELS``:
imported only where mmpretrain is installed."""
from typing import Tuple

import torch
from mmpretrain.models.backbones import SwinTransformer as ClsSwinTransformer
from mmpretrain.models.utils import resize_pos_embed
from mmpretrain.registry import MODELS as CLS_MODELS

from .swin import PromptedSwinMixin


@CLS_MODELS.register_module(name='ProTuneSwinTransformer')
class ClsProTuneSwinTransformer(PromptedSwinMixin, ClsSwinTransformer):
    """mmpretrain's ``SwinTransformer``, frozen, with Pro-tuning prompt blocks
    (registered in mmpretrain as ``ProTuneSwinTransformer``).

    Where mmpretrain's Swin differs from the dense-prediction ones:

    - its absolute position embedding is resized to the input's grid;
    - ``out_after_downsample=True`` returns a stage's tokens after its patch
      merging (the prompt is still added before it, at the end of the
      stage's blocks);
    - the output norm of the last stage is part of the ImageNet network, so
      a pretrained checkpoint must fill it (the other stages' ``norm{i}``
      may be new layers);
    - upstream renames the keys of old checkpoints (``norm.`` ->
      ``norm{last}.``) for its exact class only; the wrapper does the same;
    - the outputs are a tuple, as ``ImageClassifier``'s necks require.

    Args:
        prompt_cfg (dict, optional): See :class:`PromptedBackboneMixin`.
        **kwargs: Every argument of ``mmpretrain.models.SwinTransformer``.

    Example:
        >>> from mmprotune.models import ClsProTuneSwinTransformer
        >>> model = ClsProTuneSwinTransformer(
        ...     arch=dict(embed_dims=16, depths=(1, 1), num_heads=(1, 2)),
        ...     img_size=64, window_size=4, out_indices=(1, ))
        >>> [tuple(o.shape) for o in model(torch.rand(1, 3, 64, 64))]
        [(1, 32, 8, 8)]
    """

    def _embed(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        x, hw_shape = self.patch_embed(x)
        if self.use_abs_pos_embed:
            x = x + resize_pos_embed(
                self.absolute_pos_embed, self.patch_resolution, hw_shape,
                self.interpolate_mode, self.num_extra_tokens)
        return self.drop_after_pos(x), hw_shape

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """(N, 3, H, W) images -> (N, C_i, H_i, W_i) for ``out_indices``."""
        return tuple(super().forward(x))

    def _optional_pretrained_keys(self) -> Tuple[str, ...]:
        last = f'norm{len(self.stages) - 1}.'
        return tuple(key for key in super()._optional_pretrained_keys()
                     if not key.startswith(last))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata,
                              *args, **kwargs):
        """Before upstream's loading: a checkpoint saved before version 2 of
        the module names the last output norm ``norm``."""
        version = local_metadata.get('version')
        if version is None or version < 2:
            last = len(self.stages) - 1
            for key in [k for k in state_dict
                        if k.startswith(prefix + 'norm.')]:
                state_dict[key.replace(f'{prefix}norm.',
                                       f'{prefix}norm{last}.', 1)] = \
                    state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      *args, **kwargs)
