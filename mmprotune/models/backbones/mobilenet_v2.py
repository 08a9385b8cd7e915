"""Pro-tuning MobileNetV2s: a prompt block after each selected layer of
inverted residual blocks (or after each of its blocks), registered in
mmdet's and mmseg's ``MODELS`` (mmpretrain's: :mod:`.cls_mobilenet_v2`)."""
import math
from typing import List, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmdet.models.backbones import MobileNetV2 as DetMobileNetV2
from mmdet.registry import MODELS as DET_MODELS
from mmseg.models.backbones import MobileNetV2 as SegMobileNetV2
from mmseg.registry import MODELS as SEG_MODELS

from mmprotune.utils.model import conv_layers
from .frozen_ops import frozen_conv_affine, is_frozen_bn, is_plain_conv
from .prompted import PromptedBackboneMixin

#: The activations of upstream's ConvModules that the frozen-aware backward
#: runs (by their class), with their name in
#: :data:`~.frozen_ops.ACTIVATIONS`.
_FAST_ACTIVATIONS = {nn.ReLU6: 'relu6', nn.ReLU: 'relu'}


class PromptedMobileNetV2Mixin(PromptedBackboneMixin):
    """MobileNetV2 family: stage ``i`` is the upstream ``i``-th entry of
    ``self.layers`` (the stage indices of ``out_indices``): ``layer1`` ...
    ``layer7``, the seven layers of inverted residual blocks, and in mmdet
    and mmpretrain ``conv2``, the final 1x1 convolution to 1280 channels (a
    stage of one block). Its output (N, C_i, H, W) gets a prompt added
    before it is returned and fed to the next stage
    (``prompt_cfg.placement='block'``: each block's output gets its own).

    The prompt is computed from the stage input (``prompt_input='input'``,
    the default): the previous stage's output (the stem's ``conv1`` for
    stage 0), with its channels and, for a strided stage, twice the size;
    with ``prompt_input='output'`` from the stage output itself.

    With ``efficient_backward``, the inverted residual blocks (and
    ``conv2``) after the first prompt keep only their frozen weights, the
    BN scales and 1-bit ReLU6 masks for backward
    (:mod:`~mmprotune.models.backbones.frozen_ops`), not the float maps of
    their expanded hidden layers.

    Example:
        >>> from mmprotune.models import ProTuneMobileNetV2
        >>> model = ProTuneMobileNetV2(widen_factor=0.25, out_indices=(2, 7))
        >>> [tuple(o.shape) for o in model(torch.rand(1, 3, 64, 64))]
        [(1, 8, 8, 8), (1, 1280, 2, 2)]
    """
    default_prompt_type = 'ConvPromptBlock'
    superseded_args = dict(frozen_stages='all stages', norm_eval=True)
    family = 'mobilenetv2'
    stage_layout = 'map'
    #: Whether a lone output is returned as a tensor, not a 1-tuple
    #: (mmseg's MobileNetV2 does so).
    bare_single_output = False

    def stage_channels(self) -> List[int]:
        return [conv_layers(stage)[-1].out_channels
                for stage in self.stage_modules()]

    def stage_modules(self) -> List[nn.Module]:
        return [getattr(self, name) for name in self.layers]

    def blocks_in_stage(self, stage: int) -> List[nn.Module]:
        module = self.stage_modules()[stage]
        return list(module) if isinstance(module, nn.Sequential) else [module]

    def _stage_stride(self, stage: int) -> int:
        """The stage's downsampling factor (its first block's strided
        convolution, if any)."""
        return math.prod(conv.stride[0]
                         for conv in conv_layers(self.stage_modules()[stage]))

    def stage_source(self, stage: int) -> Tuple[int, int]:
        return conv_layers(self.stage_modules()[stage])[0].in_channels, \
            self._stage_stride(stage)

    def _run_stage_block(self, stage: int, index: int, block: nn.Module,
                         x: torch.Tensor) -> torch.Tensor:
        return self._run_block(block, x)

    def _total_stride(self) -> int:
        return self.conv1.conv.stride[0] * math.prod(
            self._stage_stride(i) for i in range(len(self.layers)))

    def forward(
        self, x: torch.Tensor
    ) -> Union[torch.Tensor, Tuple[torch.Tensor, ...]]:
        """(N, 3, H, W) images -> the prompted outputs of ``out_indices``
        (a tuple; in mmseg a lone output is the tensor itself)."""
        self._check_input_size(x)
        x = self.conv1(x)
        outs = []
        for i in range(len(self.layers)):
            x = self._run_stage(i, x)
            if i in self.out_indices:
                outs.append(x)
        if self.bare_single_output and len(outs) == 1:
            return outs[0]
        return tuple(outs)

    # ------------------------------------------------------------------
    # frozen-aware backward
    def _run_block(self, block: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """One inverted residual block (or ``conv2``). When ``x`` needs a
        gradient (after the first prompt) and ``efficient_backward`` is on,
        its convolutions, frozen BNs and activations keep only weights, BN
        scales and packed masks for backward; otherwise (inference, or
        before the first prompt) it is the upstream block, bit for bit."""
        if not (self.backward_preset and torch.is_grad_enabled()
                and x.requires_grad):
            return block(x)
        layers = self._plain_layers(block)
        if layers is None:
            return block(x)
        out = x
        for conv_module in layers:
            act = conv_module.activate if conv_module.with_activation \
                else None
            out = frozen_conv_affine(
                out, conv_module.conv, conv_module.norm,
                act=_FAST_ACTIVATIONS[type(act)] if act else None)
        if _has_shortcut(block):
            # ``out`` is no saved tensor, so the sum may be in place
            out += x
        return out

    @staticmethod
    def _plain_layers(block: nn.Module) -> Optional[List[ConvModule]]:
        """The ConvModules of ``block`` in the order they run if the fast
        path computes exactly what its ``forward`` does: conv-BN(-ReLU6 or
        ReLU) ConvModules only, with frozen plain convs and BNs, no
        squeeze-excitation, no stochastic depth, no fused conv-BN
        (``efficient_conv_bn_eval``) and no hooks (e.g. of a
        PEFT method: the fast path calls no module, so it would skip them);
        else None."""
        if any(m._forward_hooks or m._forward_pre_hooks
               for m in block.modules()):
            return None
        if isinstance(block, ConvModule):
            layers = [block]
        else:
            layers = [m for m in block.modules() if isinstance(m, ConvModule)]
            drop_path = getattr(block, 'drop_path', nn.Identity())
            if getattr(block, 'with_se', False) or \
                    not isinstance(drop_path, nn.Identity):
                return None
            # every tensor op of the block is one of its ConvModules
            if len(conv_layers(block)) != len(layers):
                return None
        for layer in layers:
            if tuple(layer.order) != ('conv', 'norm', 'act') or \
                    not layer.with_norm or layer.with_explicit_padding or \
                    layer.efficient_conv_bn_eval_forward is not None or \
                    not is_plain_conv(layer.conv) or \
                    not is_frozen_bn(layer.norm):
                return None
            if layer.with_activation and \
                    type(layer.activate) not in _FAST_ACTIVATIONS:
                return None
        return layers


def _has_shortcut(block: nn.Module) -> bool:
    """Whether an inverted residual block adds its input to its output
    (mmdet: ``with_res_shortcut``; mmseg, mmpretrain:
    ``use_res_connect``)."""
    return bool(getattr(block, 'with_res_shortcut', False)
                or getattr(block, 'use_res_connect', False))


@DET_MODELS.register_module()
class ProTuneMobileNetV2(PromptedMobileNetV2Mixin, DetMobileNetV2):
    """mmdet's ``MobileNetV2``, frozen, with Pro-tuning prompt blocks.

    Args:
        prompt_cfg (dict, optional): See :class:`PromptedBackboneMixin`.
        **kwargs: Every argument of ``mmdet.models.backbones.MobileNetV2``.
    """


@SEG_MODELS.register_module(name='ProTuneMobileNetV2')
class SegProTuneMobileNetV2(PromptedMobileNetV2Mixin, SegMobileNetV2):
    """mmseg's ``MobileNetV2`` (seven layers, ``strides`` and
    ``dilations``, no ``conv2``), frozen, with Pro-tuning prompt blocks
    (registered in mmseg as ``ProTuneMobileNetV2``).

    Args:
        prompt_cfg (dict, optional): See :class:`PromptedBackboneMixin`.
        **kwargs: Every argument of ``mmseg.models.backbones.MobileNetV2``.
    """
    bare_single_output = True
