"""Mona (Yin et al., arXiv 2311.15010): multi-cognitive visual adapters
after the sub-layers of Swin blocks and after ResNet and MobileNetV2
blocks."""
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn

from mmprotune.registry import MODELS
from mmprotune.utils.model import conv_layers
from .base import HookedMethod, depthwise, depthwise_convs, hidden_width


class _MonaLayer(nn.Module):
    """One Mona layer on (N, L, C) tokens laid out on an (H, W) grid::

        z = LN(x) * s_n + x * s_x
        h = down(z)                        # C -> hidden, on the (H, W) grid
        h = h + mean_k(dwconv_k(h))        # depth-wise k x k, k in (3, 5, 7)
        h = h + mix(h)                     # 1x1 conv
        x = x + up(GELU(h))                # hidden -> C, zero-initialised
    """

    def __init__(self, channels: int, hidden: int,
                 kernel_size: Union[int, Sequence[int]]):
        super().__init__()
        self.norm = nn.LayerNorm(channels)
        self.norm_scale = nn.Parameter(torch.empty(channels))
        self.input_scale = nn.Parameter(torch.empty(channels))
        self.down = nn.Linear(channels, hidden)
        self.dw = depthwise(hidden, kernel_size)
        self.mix = nn.Conv2d(hidden, hidden, 1)
        self.act = nn.GELU()
        self.up = nn.Linear(hidden, channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Torch's default init; ``s_n`` = 1e-6, ``s_x`` = 1 (the paper's),
        ``up`` = 0."""
        for layer in (self.norm, self.down, self.mix,
                      *depthwise_convs(self.dw)):
            layer.reset_parameters()
        nn.init.constant_(self.norm_scale, 1e-6)
        nn.init.ones_(self.input_scale)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def delta(self, x: torch.Tensor,
              hw_shape: Sequence[int]) -> torch.Tensor:
        """(N, L, C) tokens, L = H * W -> (N, L, C) update."""
        n, length, _ = x.shape
        z = self.norm(x) * self.norm_scale + x * self.input_scale
        h = self.down(z).transpose(1, 2).reshape(n, -1, *hw_shape)
        h = h + self.dw(h)
        h = h + self.mix(h)
        return self.up(self.act(h.flatten(2).transpose(1, 2)))


class _MonaAfterBlock(_MonaLayer):
    """Mona on a frozen (inverted) residual block's (N, C, H, W)
    output."""

    def forward_hook(self, module: nn.Module, args: tuple,
                     output: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) block output -> the same plus the Mona update."""
        tokens = output.flatten(2).transpose(1, 2)
        delta = self.delta(tokens, output.shape[2:])
        return output + delta.transpose(1, 2).reshape(output.shape)


class _SwinBlockMona(nn.Module):
    """The two Mona layers of a Swin block: after attention (plus its
    residual) and after the FFN (plus its residual).

    The attention's hook needs the block input (the residual it is added
    to); a pre-hook of the block keeps it until the attention's hook uses it
    (both run again when the block is recomputed by checkpointing).
    """

    def __init__(self, block: nn.Module, hidden: int,
                 kernel_size: Union[int, Sequence[int]]):
        super().__init__()
        channels = block.norm1.normalized_shape[0]
        self.after_attn = _MonaLayer(channels, hidden, kernel_size)
        self.after_ffn = _MonaLayer(channels, hidden, kernel_size)
        self._block_input: Optional[torch.Tensor] = None

    def hook_specs(self, block: nn.Module) -> list:
        """The block's pre-hook, the attention's hook and the block's hook
        (see :func:`~mmprotune.models.peft.base.hook_specs`)."""
        return [(block, self.keep_block_input, True),
                (block.attn, self.attn_hook, False),
                (block, self.forward_hook, False)]

    def reset_parameters(self) -> None:
        self.after_attn.reset_parameters()
        self.after_ffn.reset_parameters()

    def keep_block_input(self, module: nn.Module, args: tuple) -> None:
        """Block pre-hook: keep ``x`` = ``args[0]``, (N, L, C)."""
        self._block_input = args[0]

    def attn_hook(self, module: nn.Module, args: tuple,
                  output: torch.Tensor) -> torch.Tensor:
        """``attn(LN(x))`` -> ``attn(LN(x)) + mona(x + attn(LN(x)))``, so
        the block's ``x + ...`` gives ``Mona(x + attn(LN(x)))``."""
        stream, self._block_input = self._block_input + output, None
        return output + self.after_attn.delta(stream, args[1])

    def forward_hook(self, module: nn.Module, args: tuple,
                     output: torch.Tensor) -> torch.Tensor:
        """Block output (N, L, C), ``args[1]`` its ``hw_shape`` -> the
        block output plus the second Mona update."""
        return output + self.after_ffn.delta(output, args[1])


@MODELS.register_module()
class Mona(HookedMethod):
    """Mona: multi-cognitive visual adapters (Yin et al., arXiv 2311.15010).

    A Mona layer (``x -> x + up(GELU(h))``, see the math below) is added

    - Swin: after the attention (with its residual) and after the FFN (with
      its residual) of every block, as in the paper;
    - ResNet: after every residual block (on its output, after the final
      ReLU; the paper has no CNN placement, this is the CNN analogue of
      "after each sub-layer");
    - MobileNetV2: likewise after every inverted residual block (on its
      output: after the residual sum where there is one, else after the
      linear projection) and after ``conv2`` (mmdet, mmpretrain).

    Per layer, on the (N, L, C) tokens (CNN maps are flattened to tokens)::

        z = LN(x) * s_n + x * s_x              # s_n = 1e-6, s_x = 1 at init
        h = down(z)                            # C -> hidden, on the grid
        h = h + mean_k(dwconv_k(h))            # depth-wise, k in kernel_size
        h = h + mix(h)                         # 1x1 conv
        x = x + up(GELU(h))                    # up zero-initialised

    Args:
        stage (nn.Module): See :class:`HookedMethod`.
        family (str): See :class:`HookedMethod`.
        hidden_channels (int, optional): Bottleneck width. Default: 64 when
            ``hidden_ratio`` is not given either.
        hidden_ratio (float, optional): Bottleneck width as a fraction of C.
        kernel_size (int | Sequence[int]): Odd size of the depth-wise conv,
            or distinct odd sizes of depth-wise convs side by side, averaged
            (as ``ConvPromptBlock``'s). Default: (3, 5, 7), the paper's.
    """
    families = ('resnet', 'swin', 'mobilenetv2')
    method_name = 'mona'

    def __init__(self,
                 stage: nn.Module,
                 family: str,
                 hidden_channels: Optional[int] = None,
                 hidden_ratio: Optional[float] = None,
                 kernel_size: Union[int, Sequence[int]] = (3, 5, 7)):
        super().__init__(stage, family)
        for name, block in self._blocks(stage, family).items():
            if family == 'swin':
                if block.with_cp:
                    raise ValueError(
                        'Mona does not support with_cp=True (the block '
                        'recomputes its attention without its pre-hook)')
                channels = block.norm1.normalized_shape[0]
                hidden = hidden_width(channels, hidden_channels,
                                       hidden_ratio)
                layer = _SwinBlockMona(block, hidden, kernel_size)
            else:  # the output channels of the block's last conv
                channels = conv_layers(block)[-1].out_channels
                hidden = hidden_width(channels, hidden_channels,
                                       hidden_ratio)
                layer = _MonaAfterBlock(channels, hidden, kernel_size)
            self._attach(name, block, layer)

