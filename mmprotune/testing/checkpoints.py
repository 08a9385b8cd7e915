"""Pretrained-style checkpoints for tests and the demo (no model hub here)."""
from pathlib import Path
from typing import Union

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm


def write_pretrained_checkpoint(model: nn.Module,
                                path: Union[str, Path],
                                prefix: str = '',
                                seed: int = 0) -> dict:
    """Give ``model`` seeded non-trivial weights and save them like a
    released checkpoint: ``{'state_dict': {prefix + key: tensor}}``.

    BatchNorm affine parameters and running statistics are randomised too, so
    that a test can tell loaded statistics from freshly initialised ones.

    Returns:
        dict: The saved state dict (with ``prefix``).
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            if name.endswith('running_var'):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) +
                             0.5)
            elif name.endswith(('running_mean', 'bias')):
                tensor.copy_(0.1 * torch.randn(tensor.shape,
                                               generator=generator))
            elif isinstance(_owner(model, name), (_BatchNorm, nn.LayerNorm)):
                tensor.copy_(1 + 0.1 * torch.randn(tensor.shape,
                                                   generator=generator))
            else:
                fan_in = tensor[0].numel() if tensor.dim() > 1 else 1
                tensor.copy_(
                    torch.randn(tensor.shape, generator=generator) /
                    fan_in**0.5)
    state_dict = {prefix + k: v.clone() for k, v in model.state_dict().items()}
    torch.save(dict(state_dict=state_dict), str(path))
    return state_dict


def _owner(model: nn.Module, tensor_name: str) -> nn.Module:
    module_name = tensor_name.rpartition('.')[0]
    return model.get_submodule(module_name) if module_name else model
