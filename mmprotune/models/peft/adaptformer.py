"""AdaptFormer (Chen et al., arXiv 2205.13535): a bottleneck parallel to
each Swin FFN."""
from typing import Optional

import torch
import torch.nn as nn

from mmprotune.registry import MODELS
from .base import HookedMethod, check_positive_number, hidden_width


class _ParallelAdapter(nn.Module):
    """``ffn(x) + s * up(relu(down(x)))`` on the frozen FFN's input tokens
    ``x`` (N, L, C)."""

    def __init__(self, channels: int, hidden: int, scale: float):
        super().__init__()
        self.scale = scale
        self.down = nn.Linear(channels, hidden)
        self.act = nn.ReLU()
        self.up = nn.Linear(hidden, channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``down``: torch's default init; ``up`` = 0."""
        self.down.reset_parameters()
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward_hook(self, module: nn.Module, args: tuple,
                     output: torch.Tensor) -> torch.Tensor:
        """``args[0]``: the FFN's (normed) input, (N, L, C); ``output``:
        ``x' + FFN(args[0])``, (N, L, C)."""
        return output + self.scale * self.up(self.act(self.down(args[0])))


@MODELS.register_module()
class AdaptFormer(HookedMethod):
    """AdaptFormer: a parallel bottleneck next to each FFN (Chen et al.,
    arXiv 2205.13535). Swin only.

    In each Swin block, with ``x'`` the stream after attention::

        x = x' + FFN(LN(x')) + s * up(ReLU(down(LN(x'))))

    ``down`` (C -> hidden), ``up`` (hidden -> C, zero-initialised), a fixed
    scale ``s``. The adapter reads the FFN's (normed) input and is added to
    its output.

    Args:
        stage (nn.Module): See :class:`HookedMethod`.
        family (str): See :class:`HookedMethod`.
        hidden_channels (int, optional): Bottleneck width. Default: 64 when
            ``hidden_ratio`` is not given either.
        hidden_ratio (float, optional): Bottleneck width as a fraction of C.
        scale (float): ``s``. Default: 0.1 (the paper's value).
    """
    families = ('swin', )
    method_name = 'adaptformer'

    def __init__(self,
                 stage: nn.Module,
                 family: str,
                 hidden_channels: Optional[int] = None,
                 hidden_ratio: Optional[float] = None,
                 scale: float = 0.1):
        super().__init__(stage, family)
        check_positive_number(scale, 'scale')
        for block_name, block in self._blocks(stage, family).items():
            channels = block.norm2.normalized_shape[0]
            hidden = hidden_width(channels, hidden_channels, hidden_ratio)
            self._attach(f'{block_name}.ffn', block.ffn,
                         _ParallelAdapter(channels, hidden, scale))

