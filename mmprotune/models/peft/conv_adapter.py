"""Conv-Adapter (Chen et al., arXiv 2208.07463): a convolutional adapter
parallel to each residual block (ResNet) or inverted residual block
(MobileNetV2)."""
import math
from typing import Tuple

import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer

from mmprotune.registry import MODELS
from mmprotune.utils.model import conv_layers
from .base import HookedMethod, check_kernel_size


def _block_geometry(block: nn.Module,
                    family: str) -> Tuple[int, int, int, int]:
    """``(C_in, C_out, stride, dilation)`` of a frozen block: a ResNet
    residual block (its main path ``conv1`` ... ``conv2``/``conv3``), a
    MobileNetV2 inverted residual block or ``conv2`` (its convs in the order
    they run; only the depth-wise one is strided or dilated)."""
    if family == 'resnet':
        last_conv = block.conv3 if hasattr(block, 'conv3') else block.conv2
        return (block.conv1.in_channels, last_conv.out_channels,
                block.conv1.stride[0] * block.conv2.stride[0],
                block.conv2.dilation[0])
    convs = conv_layers(block)
    return (convs[0].in_channels, convs[-1].out_channels,
            math.prod(c.stride[0] for c in convs),
            max(c.dilation[0] for c in convs))


class _ConvAdapterLayer(nn.Module):
    """``block(x) + up(act(down(x)))`` next to a frozen block: ``down`` a
    grouped k x k conv (C_in -> C_in / reduction, one group per output
    channel) with the block's stride and dilation, ``up`` a 1x1 conv to the
    block's output channels."""

    def __init__(self, geometry: Tuple[int, int, int, int], reduction: int,
                 kernel_size: int, act_cfg: dict):
        super().__init__()
        in_channels, out_channels, stride, dilation = geometry
        hidden = in_channels // reduction
        self.down = nn.Conv2d(
            in_channels,
            hidden,
            kernel_size,
            stride=stride,
            padding=dilation * (kernel_size // 2),
            dilation=dilation,
            groups=hidden)
        self.act = build_activation_layer(act_cfg)
        self.up = nn.Conv2d(hidden, out_channels, 1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Kaiming ``down``; ``up`` = 0."""
        nn.init.kaiming_normal_(
            self.down.weight, mode='fan_out', nonlinearity='relu')
        nn.init.zeros_(self.down.bias)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward_hook(self, module: nn.Module, args: tuple,
                     output: torch.Tensor) -> torch.Tensor:
        """``args[0]``: the block's input (N, C_in, H, W); ``output``: its
        output (N, C_out, H', W')."""
        return output + self.up(self.act(self.down(args[0])))


@MODELS.register_module()
class ConvAdapter(HookedMethod):
    """Conv-Adapter: a convolutional adapter parallel to each residual block
    (Chen et al., arXiv 2208.07463). ResNet and MobileNetV2.

    For a block with input x (N, C_in, H, W) and output (N, C_out, H', W')::

        y = block(x) + up(act(down(x)))

    ``down``: k x k grouped conv C_in -> C_in / reduction (each hidden
    channel sees ``reduction`` input channels: depth-wise on the reduced
    width) with the block's stride and dilation, so it matches the block's
    spatial output; ``up``: 1x1 conv to C_out, zero-initialised. The adapter
    is added to the block's output, after its final ReLU (a forward hook on
    the block), so the next block and the stage output see it.

    MobileNetV2: the same, parallel to each inverted residual block (from
    its input, with its depth-wise conv's stride and dilation, added to its
    output: after the residual sum where there is one, else after the
    linear projection) and to ``conv2`` (1x1 conv C -> 1280, stride 1).

    Args:
        stage (nn.Module): See :class:`HookedMethod`.
        family (str): See :class:`HookedMethod`.
        reduction (int): Channel reduction; must divide each block's input
            channels (at MobileNetV2's widths 16 ... 320, 4 and 8 do, 16 does
            not). Default: 4.
        kernel_size (int): Odd size of ``down``. Default: 3.
        act_cfg (dict): Activation. Default: ``dict(type='ReLU')``.
    """
    families = ('resnet', 'mobilenetv2')
    method_name = 'conv-adapter'

    def __init__(self,
                 stage: nn.Module,
                 family: str,
                 reduction: int = 4,
                 kernel_size: int = 3,
                 act_cfg: dict = dict(type='ReLU')):
        super().__init__(stage, family)
        check_kernel_size(kernel_size)
        blocks = self._blocks(stage, family)
        geometry = {name: _block_geometry(block, family)
                    for name, block in blocks.items()}
        widths = sorted({g[0] for g in geometry.values()})
        if not isinstance(reduction, int) or isinstance(reduction, bool) \
                or reduction <= 0 or any(c % reduction for c in widths):
            raise ValueError(
                f'prompt_cfg.reduction must be an int > 0 that divides the '
                f'blocks\' input channels {widths}, got {reduction!r}')
        for name, block in blocks.items():
            self._attach(name, block,
                         _ConvAdapterLayer(geometry[name], reduction,
                                           kernel_size, act_cfg))

