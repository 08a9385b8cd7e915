"""Parameter counts of a detector or segmentor, by part."""
from collections import OrderedDict
from typing import Dict

import torch.nn as nn

#: Parts reported, in order; every parameter falls in exactly one.
PARTS = ('backbone (frozen)', 'backbone.prompts', 'backbone (trainable)',
         'neck', 'heads')


def part_of(name: str, requires_grad: bool) -> str:
    """Which of :data:`PARTS` the parameter ``name`` belongs to."""
    if name.startswith('backbone.prompts.'):
        return 'backbone.prompts'
    if name.startswith('backbone.'):
        return 'backbone (trainable)' if requires_grad \
            else 'backbone (frozen)'
    if name.startswith('neck.'):
        return 'neck'
    return 'heads'


def count_parameters(model: nn.Module) -> Dict[str, Dict[str, int]]:
    """Total and trainable parameters of each part, plus ``'all'``.

    Returns:
        dict: ``{part: {'total': int, 'trainable': int}}`` for every part of
        :data:`PARTS` and ``'all'``.
    """
    counts = OrderedDict(
        (part, dict(total=0, trainable=0)) for part in PARTS + ('all', ))
    for name, param in model.named_parameters():
        for part in (part_of(name, param.requires_grad), 'all'):
            counts[part]['total'] += param.numel()
            counts[part]['trainable'] += param.numel() * param.requires_grad
    return counts
