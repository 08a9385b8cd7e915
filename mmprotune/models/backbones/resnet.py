"""Pro-tuning ResNets: a prompt block after each selected residual stage (or
after each of its residual blocks), registered in mmdet's and mmseg's
``MODELS`` (mmpretrain's: :mod:`.cls_resnet`)."""
import math
from typing import List, Tuple

import torch
import torch.nn as nn
from mmdet.models.backbones import ResNet as DetResNet
from mmdet.models.backbones import ResNetV1d as DetResNetV1d
from mmdet.registry import MODELS as DET_MODELS
from mmseg.models.backbones import ResNet as SegResNet
from mmseg.models.backbones import ResNetV1c as SegResNetV1c
from mmseg.models.backbones import ResNetV1d as SegResNetV1d
from mmseg.registry import MODELS as SEG_MODELS

from .frozen_ops import (frozen_conv_affine, is_frozen_bn, is_plain_conv,
                         masked_relu_)
from .prompted import PromptedBackboneMixin


class PromptedResNetMixin(PromptedBackboneMixin):
    """ResNet family: stage ``i`` is ``layer{i+1}``; its output (N, C_i, H, W)
    with ``C_i = base_channels * 2**i * expansion`` gets a prompt added
    before it is returned and fed to the next stage
    (``prompt_cfg.placement='block'``: each residual block's output gets its
    own prompt).

    The prompt is computed from the stage input (``prompt_input='input'``,
    the default): the previous stage's output (the stem's for stage 0),
    with other channels and, for a strided stage, ``strides[i]`` times the
    size; its prompt block takes those channels and strides its depth-wise
    conv (see ``ConvPromptBlock``). With ``prompt_input='output'`` it is
    computed from the stage output itself, ``x + prompt_i(x)``.

    Example:
        >>> from mmprotune.models import ProTuneResNet
        >>> model = ProTuneResNet(depth=18, base_channels=8)
        >>> [tuple(o.shape) for o in model(torch.rand(1, 3, 32, 32))]
        [(1, 8, 8, 8), (1, 16, 4, 4), (1, 32, 2, 2), (1, 64, 1, 1)]
    """
    default_prompt_type = 'ConvPromptBlock'
    superseded_args = dict(frozen_stages='all stages', norm_eval=True)
    family = 'resnet'
    stage_layout = 'map'

    def stage_channels(self) -> List[int]:
        return [
            self.base_channels * 2**i * self.block.expansion
            for i in range(len(self.res_layers))
        ]

    def stage_modules(self) -> List[nn.Module]:
        return [getattr(self, name) for name in self.res_layers]

    def blocks_in_stage(self, stage: int) -> List[nn.Module]:
        return list(self.stage_modules()[stage])

    def stage_source(self, stage: int) -> Tuple[int, int]:
        return self.blocks_in_stage(stage)[0].conv1.in_channels, \
            self.strides[stage]

    def _run_stage_block(self, stage: int, index: int, block: nn.Module,
                         x: torch.Tensor) -> torch.Tensor:
        return self._run_block(block, x)

    def _total_stride(self) -> int:
        # stem convolution and max pooling halve the size once each
        return 4 * math.prod(self.strides)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """(N, 3, H, W) images -> the prompted outputs of ``out_indices``."""
        self._check_input_size(x)
        if self.deep_stem:
            x = self.stem(x)
        else:
            x = self.relu(self.norm1(self.conv1(x)))
        x = self.maxpool(x)
        outs = []
        for i in range(len(self.res_layers)):
            x = self._run_stage(i, x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    # ------------------------------------------------------------------
    # frozen-aware backward
    def _run_block(self, block: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """One residual block. When ``x`` needs a gradient (after the first
        prompt) and ``efficient_backward`` is on, its convolutions, frozen BNs
        and ReLUs keep only weights and boolean masks for backward (see
        :mod:`mmprotune.models.backbones.frozen_ops`); otherwise (inference,
        or before the first prompt) it is the upstream block, bit for bit."""
        if not (self.backward_preset and torch.is_grad_enabled()
                and x.requires_grad and self._is_plain_block(block)):
            return block(x)
        convs = [block.conv1, block.conv2] + (
            [block.conv3] if hasattr(block, 'conv3') else [])
        norms = [block.norm1, block.norm2] + (
            [block.norm3] if hasattr(block, 'conv3') else [])
        out = x
        for j, (conv, norm) in enumerate(zip(convs, norms)):
            out = frozen_conv_affine(
                out, conv, norm, act='relu' if j < len(convs) - 1 else None)
        identity = x
        if block.downsample is not None:
            *pool, conv, norm = block.downsample
            if pool:
                identity = pool[0](identity)
            identity = frozen_conv_affine(identity, conv, norm)
        # in place, as upstream: ``out`` is no saved tensor
        out += identity
        return masked_relu_(out)

    @staticmethod
    def _is_plain_block(block: nn.Module) -> bool:
        """Conv-BN(-ReLU) blocks without plugins, DCN or hooks (e.g. of a PEFT
        method): the fast path computes exactly what their ``forward`` does
        (it calls no module, so it would skip hooks)."""
        if getattr(block, 'with_plugins', False) or \
                getattr(block, 'with_dcn', False):
            return False
        if any(m._forward_hooks or m._forward_pre_hooks
               for m in block.modules()):
            return False
        convs = [block.conv1, block.conv2, getattr(block, 'conv3', None)]
        norms = [block.norm1, block.norm2, getattr(block, 'norm3', None)]
        if block.downsample is not None:
            *pool, conv, norm = block.downsample
            if len(pool) > 1 or (pool and
                                 not isinstance(pool[0], nn.AvgPool2d)):
                return False
            convs.append(conv)
            norms.append(norm)
        return all(c is None or is_plain_conv(c) for c in convs) and all(
            n is None or is_frozen_bn(n) for n in norms)


@DET_MODELS.register_module()
class ProTuneResNet(PromptedResNetMixin, DetResNet):
    """mmdet's ``ResNet``, frozen, with Pro-tuning prompt blocks.

    Args:
        prompt_cfg (dict, optional): See :class:`PromptedBackboneMixin`.
        **kwargs: Every argument of ``mmdet.models.backbones.ResNet``.
    """


@DET_MODELS.register_module()
class ProTuneResNetV1d(PromptedResNetMixin, DetResNetV1d):
    """mmdet's ``ResNetV1d``, frozen, with Pro-tuning prompt blocks.

    Args:
        prompt_cfg (dict, optional): See :class:`PromptedBackboneMixin`.
        **kwargs: Every argument of ``mmdet.models.backbones.ResNetV1d``.
    """


@DET_MODELS.register_module(name='ProTuneResNetV1c')
def _det_resnet_v1c(**kwargs):
    """``ProTuneResNetV1c`` wraps mmseg's ``ResNetV1c``; an mmdet config that
    names it gets this error instead of the registry's bare "not in the
    mmdet::model registry"."""
    raise KeyError(
        "ProTuneResNetV1c is registered for mmseg only (it wraps mmseg's "
        "ResNetV1c); in an mmdet config use type='ProTuneResNet', "
        'deep_stem=True (the V1c stem; V1c checkpoints load into it), or '
        "type='ProTuneResNet' for the plain ResNet; mmdet's ProTune "
        "backbones: ['ProTuneResNet', 'ProTuneResNetV1d', "
        "'ProTuneSwinTransformer']")


@SEG_MODELS.register_module(name='ProTuneResNet')
class SegProTuneResNet(PromptedResNetMixin, SegResNet):
    """mmseg's ``ResNet``, frozen, with Pro-tuning prompt blocks (registered
    in mmseg as ``ProTuneResNet``).

    Args:
        prompt_cfg (dict, optional): See :class:`PromptedBackboneMixin`.
        **kwargs: Every argument of ``mmseg.models.backbones.ResNet``.
    """


@SEG_MODELS.register_module()
class ProTuneResNetV1c(PromptedResNetMixin, SegResNetV1c):
    """mmseg's ``ResNetV1c``, frozen, with Pro-tuning prompt blocks.

    Args:
        prompt_cfg (dict, optional): See :class:`PromptedBackboneMixin`.
        **kwargs: Every argument of ``mmseg.models.backbones.ResNetV1c``.
    """


@SEG_MODELS.register_module(name='ProTuneResNetV1d')
class SegProTuneResNetV1d(PromptedResNetMixin, SegResNetV1d):
    """mmseg's ``ResNetV1d``, frozen, with Pro-tuning prompt blocks
    (registered in mmseg as ``ProTuneResNetV1d``).

    Args:
        prompt_cfg (dict, optional): See :class:`PromptedBackboneMixin`.
        **kwargs: Every argument of ``mmseg.models.backbones.ResNetV1d``.
    """
