"""PEFT baselines that tune a frozen backbone from inside its stages.

Each method is registered like a prompt block and selected by
``prompt_cfg.type``; its ``placement = 'module'`` tells the wrapper to build
it once per tuned stage from the frozen stage module (``stage``) and the
backbone family (``family``: ``'resnet'`` or ``'swin'``). The method creates
one small trainable layer per frozen target layer and attaches it with
``register_forward_hook(layer.forward_hook)``:

- no upstream module is replaced or re-parameterised, so the upstream
  parameters, buffers and state-dict keys stay exactly as loaded, and every
  trainable parameter lives under the wrapper's ``prompts``;
- the hook is a bound method of the trainable layer, so ``copy.deepcopy`` of
  the backbone hooks each copied frozen layer to the copied trainable layer;
- every method's output path starts at zero, so the tuned backbone computes
  exactly what the pretrained one does at step 0.

ResNet's frozen-aware fast path never calls the modules of a block, so it is
skipped for blocks with hooks (see ``PromptedResNetMixin._is_plain_block``).
"""
import math
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer
from mmengine.model import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from mmprotune.registry import MODELS
from .protune import _check_kernel_size, _hidden_width


def _channel_view(vector: torch.Tensor, output: torch.Tensor,
                  channel_dim: int) -> torch.Tensor:
    """``vector`` (C,) shaped to broadcast over ``output``'s channel dim:
    1 for (N, C, H, W) maps, -1 for (N, L, C) tokens."""
    if channel_dim == -1:
        return vector
    return vector.view(-1, *([1] * (output.dim() - 2)))


class PEFTMethod(BaseModule):
    """Base of the PEFT methods that hook onto layers of a frozen stage.

    Subclasses find their targets in ``stage`` and call :meth:`_attach` for
    each; the trainable layers are kept in ``self.layers`` under the target's
    name inside the stage (dots replaced by underscores).

    Args:
        stage (nn.Module): The frozen stage (ResNet ``layer{i+1}``, Swin
            ``stages[i]``). It is not registered as a child.
        family (str): ``'resnet'`` or ``'swin'``.

    Attributes:
        placement (str): ``'module'``.
        families (tuple[str]): Backbone families the method applies to.
        method_name (str): The method's name in every CLI and table (e.g.
            ``tools/report.py --methods``).
    """
    placement: str = 'module'
    families: Tuple[str, ...] = ()
    method_name: str = ''

    def __init__(self, stage: nn.Module, family: str):
        super().__init__()
        self.layers = nn.ModuleDict()

    @staticmethod
    def _blocks(stage: nn.Module, family: str) -> Dict[str, nn.Module]:
        """Residual / Swin blocks of ``stage`` by their name in it."""
        if family == 'swin':
            return {f'blocks.{j}': b for j, b in enumerate(stage.blocks)}
        return dict(stage.named_children())

    def _attach(self, name: str, target: nn.Module, layer: nn.Module) -> None:
        """Keep ``layer`` under ``name`` and add its ``forward_hook`` to the
        frozen ``target``."""
        self.layers[name.replace('.', '_')] = layer
        target.register_forward_hook(layer.forward_hook)

    def init_weights(self) -> None:
        """Each layer's own init, whose output path is zero."""
        for layer in self.layers.values():
            layer.reset_parameters()


# ----------------------------------------------------------------------
# BitFit
class _BiasOffset(nn.Module):
    """A trainable offset added to a frozen layer's bias: ``y + delta``."""

    def __init__(self, channels: int, channel_dim: int):
        super().__init__()
        self.channel_dim = channel_dim
        self.delta = nn.Parameter(torch.zeros(channels))

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.delta)

    def forward_hook(self, module: nn.Module, args: tuple,
                     output: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) maps or (N, L, C) tokens -> the same plus delta."""
        return output + _channel_view(self.delta, output, self.channel_dim)


@MODELS.register_module()
class BitFit(PEFTMethod):
    """BitFit: tune only the bias terms (Ben Zaken et al., arXiv 2106.10199).

    Every layer of a tuned stage that has a bias (``nn.Linear``,
    ``nn.LayerNorm``, convolutions, and BatchNorm's shift) gets a trainable
    offset ``delta`` (zero-initialised) added to its output:
    ``y = W x + (b + delta)``. This equals training ``b`` from its
    pretrained value, while the frozen ``b`` stays bit-identical. A Swin
    stage includes its patch merging (its LayerNorm gets an offset). Swin's
    relative position bias tables are attention logits, not layer biases,
    and stay frozen; so do the stem / patch embedding and the output norms,
    which are outside the stages.

    Args:
        stage (nn.Module): See :class:`PEFTMethod`.
        family (str): See :class:`PEFTMethod`.

    Example:
        >>> from mmprotune.models import ProTuneResNet
        >>> model = ProTuneResNet(depth=18, base_channels=8,
        ...                       prompt_cfg=dict(type='BitFit', stages=[0]))
        >>> sum(p.numel() for p in model.prompts.parameters())  # 4 BNs x 8
        32
    """
    families = ('resnet', 'swin')
    method_name = 'bitfit'

    def __init__(self, stage: nn.Module, family: str):
        super().__init__(stage, family)
        for name, module in stage.named_modules():
            if isinstance(module, (nn.Linear, nn.LayerNorm)):
                channel_dim = -1
            elif isinstance(module, (nn.Conv2d, _BatchNorm)):
                channel_dim = 1
            else:
                continue
            if getattr(module, 'bias', None) is not None:
                self._attach(name, module,
                             _BiasOffset(module.bias.numel(), channel_dim))


# ----------------------------------------------------------------------
# LoRA
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
    return lambda name, m: (isinstance(m, nn.Conv2d) and m.groups == 1
                            and m.kernel_size == (kernel_size, kernel_size))


#: LoRA targets per family: name -> predicate on (name in block, module).
LORA_TARGETS = dict(
    swin=dict(
        qkv=lambda name, m: name == 'attn.w_msa.qkv',
        proj=lambda name, m: name == 'attn.w_msa.proj',
        ffn=lambda name, m: name.startswith('ffn.') and isinstance(
            m, nn.Linear)),
    resnet=dict(conv1x1=_is_conv(1), conv3x3=_is_conv(3)))
#: Default targets: Swin's attention and FFN linears, ResNet's 1x1 convs.
LORA_DEFAULT_TARGETS = dict(swin=('qkv', 'proj', 'ffn'), resnet=('conv1x1', ))


@MODELS.register_module()
class LoRA(PEFTMethod):
    """LoRA: low-rank updates of frozen weights (Hu et al., arXiv
    2106.09685).

    Each target layer ``y = W x`` becomes ``y = W x + (alpha / r) B A x``
    with ``A`` (r x C_in, torch's default init) and ``B`` (C_out x r,
    zero-initialised), so the update starts at zero. Targets:

    - Swin: ``'qkv'`` and ``'proj'`` (the window attention's linears) and
      ``'ffn'`` (both FFN linears) of every block;
    - ResNet: ``'conv1x1'`` (the bottleneck's 1x1 convs and the downsample
      projections) and ``'conv3x3'`` (then ``A`` is a 3x3 conv with the frozen
      conv's stride and dilation, ``B`` a 1x1 conv).

    Args:
        stage (nn.Module): See :class:`PEFTMethod`.
        family (str): See :class:`PEFTMethod`.
        rank (int): Rank r. Default: 4.
        alpha (float): Scale numerator; the update is scaled by alpha / r.
            Default: 4.0 (scale 1 at the default rank).
        targets (Sequence[str], optional): Target layers (see above).
            Default: ``('qkv', 'proj', 'ffn')`` for Swin, ``('conv1x1',)``
            for ResNet.

    Example:
        >>> from mmprotune.models import ProTuneSwinTransformer
        >>> model = ProTuneSwinTransformer(
        ...     embed_dims=16, depths=(1, 1), num_heads=(1, 2),
        ...     strides=(4, 2), out_indices=(0, 1),
        ...     prompt_cfg=dict(type='LoRA', rank=2, targets=['qkv']))
        >>> sum(p.numel() for p in model.prompts.parameters())  # 128 + 256
        384
    """
    families = ('resnet', 'swin')
    method_name = 'lora'

    def __init__(self,
                 stage: nn.Module,
                 family: str,
                 rank: int = 4,
                 alpha: float = 4.0,
                 targets: Optional[Sequence[str]] = None):
        super().__init__(stage, family)
        if not isinstance(rank, int) or isinstance(rank, bool) or rank <= 0:
            raise ValueError(f'prompt_cfg.rank must be an int > 0, got '
                             f'{rank!r}')
        if not isinstance(alpha, (int, float)) or alpha <= 0:
            raise ValueError(f'prompt_cfg.alpha must be a number > 0, got '
                             f'{alpha!r}')
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
                    self._attach(f'{block_name}.{name}', module,
                                 _LowRankUpdate(module, rank, alpha / rank))


# ----------------------------------------------------------------------
# AdaptFormer
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
class AdaptFormer(PEFTMethod):
    """AdaptFormer: a parallel bottleneck next to each FFN (Chen et al.,
    arXiv 2205.13535). Swin only.

    In each Swin block, with ``x'`` the stream after attention::

        x = x' + FFN(LN(x')) + s * up(ReLU(down(LN(x'))))

    ``down`` (C -> hidden), ``up`` (hidden -> C, zero-initialised), a fixed
    scale ``s``. The adapter reads the FFN's (normed) input and is added to
    its output.

    Args:
        stage (nn.Module): See :class:`PEFTMethod`.
        family (str): See :class:`PEFTMethod`.
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
        if not isinstance(scale, (int, float)) or scale <= 0:
            raise ValueError(f'prompt_cfg.scale must be a number > 0, got '
                             f'{scale!r}')
        for block_name, block in self._blocks(stage, family).items():
            channels = block.norm2.normalized_shape[0]
            hidden = _hidden_width(channels, hidden_channels, hidden_ratio)
            self._attach(f'{block_name}.ffn', block.ffn,
                         _ParallelAdapter(channels, hidden, scale))


# ----------------------------------------------------------------------
# Conv-Adapter
class _ConvAdapterLayer(nn.Module):
    """``block(x) + up(act(down(x)))`` next to a frozen residual block:
    ``down`` a grouped k x k conv (C_in -> C_in / reduction, one group per
    output channel) with the block's stride and dilation, ``up`` a 1x1 conv
    to the block's output channels."""

    def __init__(self, block: nn.Module, reduction: int, kernel_size: int,
                 act_cfg: dict):
        super().__init__()
        in_channels = block.conv1.in_channels
        last_conv = block.conv3 if hasattr(block, 'conv3') else block.conv2
        stride = block.conv1.stride[0] * block.conv2.stride[0]
        dilation = block.conv2.dilation[0]
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
        self.up = nn.Conv2d(hidden, last_conv.out_channels, 1)
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
class ConvAdapter(PEFTMethod):
    """Conv-Adapter: a convolutional adapter parallel to each residual block
    (Chen et al., arXiv 2208.07463). ResNet only.

    For a block with input x (N, C_in, H, W) and output (N, C_out, H', W')::

        y = block(x) + up(act(down(x)))

    ``down``: k x k grouped conv C_in -> C_in / reduction (each hidden
    channel sees ``reduction`` input channels: depth-wise on the reduced
    width) with the block's stride and dilation, so it matches the block's
    spatial output; ``up``: 1x1 conv to C_out, zero-initialised. The adapter
    is added to the block's output, after its final ReLU (a forward hook on
    the block), so the next block and the stage output see it.

    Args:
        stage (nn.Module): See :class:`PEFTMethod`.
        family (str): See :class:`PEFTMethod`.
        reduction (int): Channel reduction; must divide each block's input
            channels. Default: 4.
        kernel_size (int): Odd size of ``down``. Default: 3.
        act_cfg (dict): Activation. Default: ``dict(type='ReLU')``.
    """
    families = ('resnet', )
    method_name = 'conv-adapter'

    def __init__(self,
                 stage: nn.Module,
                 family: str,
                 reduction: int = 4,
                 kernel_size: int = 3,
                 act_cfg: dict = dict(type='ReLU')):
        super().__init__(stage, family)
        _check_kernel_size(kernel_size)
        blocks = self._blocks(stage, family)
        widths = sorted({b.conv1.in_channels for b in blocks.values()})
        if not isinstance(reduction, int) or isinstance(reduction, bool) \
                or reduction <= 0 or any(c % reduction for c in widths):
            raise ValueError(
                f'prompt_cfg.reduction must be an int > 0 that divides the '
                f'blocks\' input channels {widths}, got {reduction!r}')
        for name, block in blocks.items():
            self._attach(name, block,
                         _ConvAdapterLayer(block, reduction, kernel_size,
                                           act_cfg))


# ----------------------------------------------------------------------
# Mona
class _MonaLayer(nn.Module):
    """One Mona layer on (N, L, C) tokens laid out on an (H, W) grid::

        z = LN(x) * s_n + x * s_x
        h = down(z)                        # C -> hidden, on the (H, W) grid
        h = h + mean_k(dwconv_k(h))        # depth-wise k x k, k in (3, 5, 7)
        h = h + mix(h)                     # 1x1 conv
        x = x + up(GELU(h))                # hidden -> C, zero-initialised
    """

    def __init__(self, channels: int, hidden: int,
                 kernel_sizes: Sequence[int]):
        super().__init__()
        self.norm = nn.LayerNorm(channels)
        self.norm_scale = nn.Parameter(torch.empty(channels))
        self.input_scale = nn.Parameter(torch.empty(channels))
        self.down = nn.Linear(channels, hidden)
        self.dws = nn.ModuleList(
            nn.Conv2d(hidden, hidden, k, padding=k // 2, groups=hidden)
            for k in kernel_sizes)
        self.mix = nn.Conv2d(hidden, hidden, 1)
        self.act = nn.GELU()
        self.up = nn.Linear(hidden, channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Torch's default init; ``s_n`` = 1e-6, ``s_x`` = 1 (the paper's),
        ``up`` = 0."""
        for layer in (self.norm, self.down, self.mix, *self.dws):
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
        h = h + sum(dw(h) for dw in self.dws) / len(self.dws)
        h = h + self.mix(h)
        return self.up(self.act(h.flatten(2).transpose(1, 2)))


class _MonaAfterBlock(_MonaLayer):
    """Mona on a frozen residual block's (N, C, H, W) output."""

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
                 kernel_sizes: Sequence[int]):
        super().__init__()
        channels = block.norm1.normalized_shape[0]
        self.after_attn = _MonaLayer(channels, hidden, kernel_sizes)
        self.after_ffn = _MonaLayer(channels, hidden, kernel_sizes)
        self._block_input: Optional[torch.Tensor] = None
        block.register_forward_pre_hook(self.keep_block_input)
        block.attn.register_forward_hook(self.attn_hook)

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
class Mona(PEFTMethod):
    """Mona: multi-cognitive visual adapters (Yin et al., arXiv 2311.15010).

    A Mona layer (``x -> x + up(GELU(h))``, see the math below) is added

    - Swin: after the attention (with its residual) and after the FFN (with
      its residual) of every block, as in the paper;
    - ResNet: after every residual block (on its output, after the final
      ReLU; the paper has no CNN placement, this is the CNN analogue of
      "after each sub-layer").

    Per layer, on the (N, L, C) tokens (ResNet maps are flattened to tokens)::

        z = LN(x) * s_n + x * s_x              # s_n = 1e-6, s_x = 1 at init
        h = down(z)                            # C -> hidden, on the grid
        h = h + mean_k(dwconv_k(h))            # depth-wise, k in kernel_sizes
        h = h + mix(h)                         # 1x1 conv
        x = x + up(GELU(h))                    # up zero-initialised

    Args:
        stage (nn.Module): See :class:`PEFTMethod`.
        family (str): See :class:`PEFTMethod`.
        hidden_channels (int, optional): Bottleneck width. Default: 64 when
            ``hidden_ratio`` is not given either.
        hidden_ratio (float, optional): Bottleneck width as a fraction of C.
        kernel_sizes (Sequence[int]): Odd sizes of the depth-wise convs.
            Default: (3, 5, 7).
    """
    families = ('resnet', 'swin')
    method_name = 'mona'

    def __init__(self,
                 stage: nn.Module,
                 family: str,
                 hidden_channels: Optional[int] = None,
                 hidden_ratio: Optional[float] = None,
                 kernel_sizes: Sequence[int] = (3, 5, 7)):
        super().__init__(stage, family)
        if isinstance(kernel_sizes, int) or not kernel_sizes:
            raise ValueError('prompt_cfg.kernel_sizes must be a non-empty '
                             f'list of odd ints, got {kernel_sizes!r}')
        for k in kernel_sizes:
            _check_kernel_size(k, 'kernel_sizes')
        for name, block in self._blocks(stage, family).items():
            if family == 'swin':
                if block.with_cp:
                    raise ValueError(
                        'Mona does not support with_cp=True (the block '
                        'recomputes its attention without its pre-hook)')
                channels = block.norm1.normalized_shape[0]
                hidden = _hidden_width(channels, hidden_channels,
                                       hidden_ratio)
                layer = _SwinBlockMona(block, hidden, kernel_sizes)
            else:
                last_conv = block.conv3 if hasattr(block,
                                                   'conv3') else block.conv2
                channels = last_conv.out_channels
                hidden = _hidden_width(channels, hidden_channels,
                                       hidden_ratio)
                layer = _MonaAfterBlock(channels, hidden, kernel_sizes)
            self._attach(name, block, layer)


# ----------------------------------------------------------------------
# VPT-deep
#: Patch size in VPT's xavier-style bound of the prompt init (Swin's p4).
VPT_PATCH_SIZE = 4


class _GatedWindowPrompts(nn.Module):
    """A block's prompt tokens P (T, C) and per-head gates g (heads,) next to
    a frozen Swin ``WindowMSA``: its output gets
    ``proj_W(concat_h[g_h * softmax(q_h k_{P,h}^T * scale) v_{P,h}])``."""

    def __init__(self, w_msa: nn.Module, num_tokens: int):
        super().__init__()
        self.num_heads = w_msa.num_heads
        self.tokens = nn.Parameter(torch.empty(num_tokens, w_msa.embed_dims))
        self.gate = nn.Parameter(torch.empty(w_msa.num_heads))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Tokens: VPT's uniform(-b, b), b = sqrt(6 / (3 * 4 * 4 + C)); the
        gates = 0."""
        bound = math.sqrt(6 / (3 * VPT_PATCH_SIZE**2 + self.tokens.shape[1]))
        nn.init.uniform_(self.tokens, -bound, bound)
        nn.init.zeros_(self.gate)

    def forward_hook(self, module: nn.Module, args: tuple,
                     output: torch.Tensor) -> torch.Tensor:
        """``args[0]``: the window tokens x (B * nW, N, C); ``output``:
        ``WindowMSA(x)``, (B * nW, N, C). mmdet's and mmseg's ``WindowMSA``
        share ``forward(x, mask=None)`` and their ``ShiftWindowMSA`` passes
        the shifted windows' mask as a keyword: it concerns window tokens
        only, so the hook does not need it."""
        x = args[0]
        windows, length, channels = x.shape
        heads = self.num_heads
        weight, bias = module.qkv.weight, module.qkv.bias
        q_bias, kv_bias = (None, None) if bias is None else \
            (bias[:channels], bias[channels:])
        q = F.linear(x, weight[:channels], q_bias)
        q = q.view(windows, length, heads, -1).transpose(1, 2) * module.scale
        kv = F.linear(self.tokens, weight[channels:], kv_bias)
        k, v = kv.view(-1, 2, heads, channels // heads).permute(1, 2, 0, 3)
        attn = (q @ k.transpose(-2, -1)).softmax(dim=-1)  # (B*nW, h, N, T)
        prompted = (attn @ v) * self.gate.view(heads, 1, 1)
        prompted = prompted.transpose(1, 2).reshape(windows, length, channels)
        return output + F.linear(prompted, module.proj.weight)


@MODELS.register_module()
class VPT(PEFTMethod):
    """VPT-deep with zero-initialised gated prompt attention (Jia et al.,
    arXiv 2203.12119; the gating of LLaMA-Adapter, Zhang et al., arXiv
    2303.16199). Swin only.

    As in VPT-deep, every Swin block has its own ``num_tokens`` learnable
    prompt tokens P (T, C), shared by all local windows of the block and
    seen by every window token (VPT's Swin variant). Plain VPT appends P to
    the keys and values of the attention softmax, which changes the output
    before any training; here the prompt attention is a separate softmax
    whose output is gated per head, with the gates g (heads,) starting at 0,
    so the tuned backbone computes exactly the pretrained one at step 0.

    Note:
        In the frozen ``WindowMSA`` (``block.attn.w_msa``) of each block, for
        the window tokens x (B * nW, N, C)::

            out = WindowMSA(x) + W_proj concat_h[
                      g_h * softmax(q_h k_{P,h}^T * scale) v_{P,h}]

        with q = W_q x + b_q, k_P = W_k P + b_k, v_P = W_v P + b_v from the
        frozen ``qkv`` linear, the module's own ``scale``, and the frozen
        ``proj`` weight without its bias (the bias is already in
        ``WindowMSA(x)``). The relative position bias and the shifted
        windows' mask concern window-window pairs only; prompts are visible
        to all window tokens. P enters at the attention's (LayerNorm'ed)
        input, like VPT's prompts after the block's LayerNorm, but is not
        itself normalised, and VPT's prompts pass through the FFN as tokens
        of their own while ours only act as keys and values.

        Prompt init: VPT's uniform(-b, b) with its xavier-style bound
        b = sqrt(6 / (3 * 4 * 4 + C)) for a 4x4 patch (Swin's) and the
        block's width C; no prompt dropout. At step 0 the gates get a
        gradient and the tokens none (their path is gated by 0); the tokens
        start learning once the gates move. Trainable per block: T * C +
        heads.

    Args:
        stage (nn.Module): See :class:`PEFTMethod`.
        family (str): See :class:`PEFTMethod`.
        num_tokens (int): Prompt tokens T per block. Default: 10 (a middle
            value of the paper's prompt lengths {1, 5, 10, 50, 100, 200},
            small next to a 7x7 window's 49 tokens).

    Example:
        >>> from mmprotune.models import ProTuneSwinTransformer
        >>> model = ProTuneSwinTransformer(
        ...     embed_dims=16, depths=(1, 1), num_heads=(1, 2),
        ...     strides=(4, 2), out_indices=(0, 1),
        ...     prompt_cfg=dict(type='VPT', num_tokens=4))
        >>> sum(p.numel() for p in model.prompts.parameters())  # 65 + 130
        195
    """
    families = ('swin', )
    method_name = 'vpt'

    def __init__(self, stage: nn.Module, family: str, num_tokens: int = 10):
        super().__init__(stage, family)
        if not isinstance(num_tokens, int) or isinstance(num_tokens, bool) \
                or num_tokens <= 0:
            raise ValueError(f'prompt_cfg.num_tokens must be an int > 0, '
                             f'got {num_tokens!r}')
        for block_name, block in self._blocks(stage, family).items():
            w_msa = block.attn.w_msa
            self._attach(f'{block_name}.attn.w_msa', w_msa,
                         _GatedWindowPrompts(w_msa, num_tokens))
