"""LoRA (Hu et al., arXiv 2106.09685): low-rank updates next to frozen
linears (Swin) and convolutions (ResNet, MobileNetV2)."""
import math
from typing import Optional, Sequence

import torch
import torch.nn as nn

from mmprotune.registry import MODELS
from .base import (HookedMethod, check_positive_int, check_positive_number,
                   member_name)


class _LowRankUpdate(nn.Module):
    """``y = W x + scale * B A x`` next to a frozen ``nn.Linear`` or
    ``nn.Conv2d`` (then ``A`` is a conv with the frozen conv's kernel size,
    stride, padding and dilation, and ``B`` a 1x1 conv)."""

    def __init__(self, target: nn.Module, rank: int, scale: float):
        super().__init__()
        self.scale = scale
        if isinstance(target, nn.Linear):
            self.down = nn.Linear(target.in_features, rank, bias=False)
            self.up = nn.Linear(rank, target.out_features, bias=False)
        else:
            self.down = nn.Conv2d(
                target.in_channels,
                rank,
                target.kernel_size,
                stride=target.stride,
                padding=target.padding,
                dilation=target.dilation,
                bias=False)
            self.up = nn.Conv2d(rank, target.out_channels, 1, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``A`` as torch's default layer init, ``B = 0``."""
        nn.init.kaiming_uniform_(self.down.weight, a=math.sqrt(5))
        nn.init.zeros_(self.up.weight)

    def forward_hook(self, module: nn.Module, args: tuple,
                     output: torch.Tensor) -> torch.Tensor:
        """``args[0]``: the layer's input, (N, L, C_in) or
        (N, C_in, H, W); ``output``: ``W x``, (N, L, C_out) or
        (N, C_out, H', W')."""
        return output + self.scale * self.up(self.down(args[0]))


def _is_conv(kernel_size: int):
    """A predicate on (name, module): a dense (``groups=1``) k x k
    ``nn.Conv2d``, whatever its name (so mmdet's, mmseg's and mmpretrain's
    layouts all match)."""
    return lambda name, m: (isinstance(m, nn.Conv2d) and m.groups == 1
                            and m.kernel_size == (kernel_size, kernel_size))


#: LoRA targets per family: name -> predicate on (name in block, module).
LORA_TARGETS = dict(
    swin=dict(
        qkv=lambda name, m: name == 'attn.w_msa.qkv',
        proj=lambda name, m: name == 'attn.w_msa.proj',
        ffn=lambda name, m: name.startswith('ffn.') and isinstance(
            m, nn.Linear)),
    resnet=dict(conv1x1=_is_conv(1), conv3x3=_is_conv(3)),
    mobilenetv2=dict(conv1x1=_is_conv(1)))
#: Default targets: Swin's attention and FFN linears, the 1x1 convs of
#: ResNet and MobileNetV2.
LORA_DEFAULT_TARGETS = dict(
    swin=('qkv', 'proj', 'ffn'), resnet=('conv1x1', ),
    mobilenetv2=('conv1x1', ))


@MODELS.register_module()
class LoRA(HookedMethod):
    """LoRA: low-rank updates of frozen weights (Hu et al., arXiv
    2106.09685).

    Each target layer ``y = W x`` becomes ``y = W x + (alpha / r) B A x``
    with ``A`` (r x C_in, torch's default init) and ``B`` (C_out x r,
    zero-initialised), so the update starts at zero. Targets:

    - Swin: ``'qkv'`` and ``'proj'`` (the window attention's linears) and
      ``'ffn'`` (both FFN linears) of every block;
    - ResNet: ``'conv1x1'`` (the bottleneck's 1x1 convs and the downsample
      projections) and ``'conv3x3'`` (then ``A`` is a 3x3 conv with the frozen
      conv's stride and dilation, ``B`` a 1x1 conv);
    - MobileNetV2: ``'conv1x1'`` only, the expansion (C -> t C) and the
      projection (t C -> C') of each inverted residual block (``layer1``'s
      has no expansion) and ``conv2``'s conv (found as dense 1x1 convs, in
      mmdet's and mmseg's / mmpretrain's layouts alike). The 3x3 depth-wise
      convs are no target: their weight is one k x k filter per channel
      (C x 1 x k x k), with no C_out x C_in matrix whose rank an update
      could limit, and ``B A`` with a dense ``A`` would mix channels the
      frozen layer keeps apart (and cost more than the layer itself).

    Args:
        stage (nn.Module): See :class:`HookedMethod`.
        family (str): See :class:`HookedMethod`.
        rank (int): Rank r. Default: 4.
        alpha (float): Scale numerator; the update is scaled by alpha / r.
            Default: 4.0 (scale 1 at the default rank).
        targets (Sequence[str], optional): Target layers (see above).
            Default: ``('qkv', 'proj', 'ffn')`` for Swin, ``('conv1x1',)``
            for ResNet and MobileNetV2.

    Example:
        >>> from mmprotune.models import ProTuneSwinTransformer
        >>> model = ProTuneSwinTransformer(
        ...     embed_dims=16, depths=(1, 1), num_heads=(1, 2),
        ...     strides=(4, 2), out_indices=(0, 1),
        ...     prompt_cfg=dict(type='LoRA', rank=2, targets=['qkv']))
        >>> sum(p.numel() for p in model.prompts.parameters())  # 128 + 256
        384
    """
    families = ('resnet', 'swin', 'mobilenetv2')
    method_name = 'lora'

    def __init__(self,
                 stage: nn.Module,
                 family: str,
                 rank: int = 4,
                 alpha: float = 4.0,
                 targets: Optional[Sequence[str]] = None):
        super().__init__(stage, family)
        check_positive_int(rank, 'rank')
        check_positive_number(alpha, 'alpha')
        allowed = LORA_TARGETS[family]
        targets = LORA_DEFAULT_TARGETS[family] if targets is None \
            else targets
        if isinstance(targets, str) or not targets or \
                not set(targets) <= set(allowed):
            raise ValueError(
                f'prompt_cfg.targets must be a non-empty list of '
                f'{sorted(allowed)} for a {family} backbone, got {targets!r}')
        for block_name, block in self._blocks(stage, family).items():
            for name, module in block.named_modules():
                if any(allowed[t](name, module) for t in targets):
                    self._attach(member_name(block_name, name), module,
                                 _LowRankUpdate(module, rank, alpha / rank))

