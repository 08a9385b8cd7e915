from .adaptformer import AdaptFormer
from .base import (HookedMethod, StageBlock, TuningModule, check_kernel_size,
                   check_positive_int, check_positive_number, hidden_width)
from .bitfit import BitFit
from .conv_adapter import ConvAdapter
from .lora import LoRA
from .mona import Mona
from .protune import ConvPromptBlock, TokenPromptBlock
from .vpt import VPT

__all__ = [
    'TuningModule', 'StageBlock', 'HookedMethod', 'check_kernel_size',
    'check_positive_int', 'check_positive_number', 'hidden_width',
    'ConvPromptBlock', 'TokenPromptBlock', 'BitFit', 'LoRA', 'AdaptFormer',
    'ConvAdapter', 'Mona', 'VPT'
]
