"""The same prompted backbone twice, with the frozen-aware backward and with
plain autograd, to compare their outputs and gradients (on a CPU in float64,
or on a GPU)."""
from typing import Dict, List, Optional, Sequence, Tuple, Type, Union

import torch
import torch.nn as nn


def efficient_and_plain(cls: Type[nn.Module],
                        kwargs: dict,
                        stages: Sequence[int] = (0, 1, 2, 3),
                        dtype: torch.dtype = torch.double,
                        device: str = 'cpu',
                        efficient_backward: Union[bool, str] = True,
                        prompt_cfg: Optional[dict] = None
                        ) -> Tuple[nn.Module, nn.Module]:
    """``cls(**kwargs)`` with ``efficient_backward`` (True, or a preset
    name) and with plain autograd (False), the same weights, non-zero
    prompts and non-trivial BN statistics (seed 0); ``prompt_cfg``: more
    fields than ``stages`` (e.g. ``placement``).

    Returns:
        tuple: (efficient, plain), both in ``dtype`` on ``device``.
    """
    torch.manual_seed(0)
    prompt_cfg = dict(prompt_cfg or {}, stages=tuple(stages))
    efficient = cls(
        **kwargs,
        prompt_cfg=prompt_cfg,
        efficient_backward=efficient_backward)
    with torch.no_grad():
        for name, tensor in efficient.state_dict().items():
            if name.endswith('running_var'):
                tensor.uniform_(0.5, 2)
            elif name.endswith('running_mean') or 'prompts' in name:
                tensor.normal_(std=0.1)
    plain = cls(**kwargs, prompt_cfg=prompt_cfg, efficient_backward=False)
    plain.load_state_dict(efficient.state_dict())
    return efficient.to(device, dtype), plain.to(device, dtype)


def prompt_grads(
    model: nn.Module, x: torch.Tensor, weights: Sequence[torch.Tensor]
) -> Tuple[List[torch.Tensor], Dict[str, torch.Tensor], torch.Tensor]:
    """Backward of ``sum((out_i * weights_i).sum())`` from input ``x``
    (which is made to require a gradient).

    Returns:
        tuple: (outputs, {name: grad} of every trainable parameter, the
        gradient of ``x``).
    """
    model.zero_grad()
    x = x.detach().clone().requires_grad_()
    outs = model(x)
    sum((o * w).sum() for o, w in zip(outs, weights)).backward()
    return list(outs), {
        n: p.grad
        for n, p in model.named_parameters() if p.requires_grad
    }, x.grad
