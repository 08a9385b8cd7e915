"""bf16 mixed precision on any device, for ``--amp`` without a GPU."""
from contextlib import contextmanager

import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS
from mmengine.runner.amp import autocast


@OPTIM_WRAPPERS.register_module()
class BF16AutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward pass runs under bf16 autocast.

    mmengine 0.10.7's ``AmpOptimWrapper`` refuses to be built without a
    GPU/NPU/MLU/MUSA device, so ``tools/train.py --amp`` uses this wrapper on
    a CPU: the same ``mmengine.runner.amp.autocast(dtype=torch.bfloat16)``
    that ``AmpOptimWrapper(dtype='bfloat16')`` enters, without a loss scaler
    (bf16 has fp32's exponent range, so gradients do not underflow). The
    parameters and the optimizer state stay fp32. Registered in mmengine's
    root registry, so mmdet, mmseg and mmpretrain configs find it:

    .. code-block:: python

        optim_wrapper = dict(
            type='BF16AutocastOptimWrapper',
            optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05))
    """

    @contextmanager
    def optim_context(self, model: nn.Module):
        # the model's own device: without one, mmengine's autocast() picks
        # CUDA whenever a GPU exists, and a model on the CPU runs in fp32
        device = next(model.parameters()).device.type
        with super().optim_context(model), autocast(
                device_type=device, dtype=torch.bfloat16):
            yield
