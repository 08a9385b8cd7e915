"""VPT-deep (Jia et al., arXiv 2203.12119) with zero-initialised gated
prompt attention, for Swin."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmprotune.registry import MODELS
from .base import HookedMethod, check_positive_int


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
class VPT(HookedMethod):
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
        stage (nn.Module): See :class:`HookedMethod`.
        family (str): See :class:`HookedMethod`.
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
        check_positive_int(num_tokens, 'num_tokens')
        for block_name, block in self._blocks(stage, family).items():
            w_msa = block.attn.w_msa
            self._attach(f'{block_name}.attn.w_msa', w_msa,
                         _GatedWindowPrompts(w_msa, num_tokens))
