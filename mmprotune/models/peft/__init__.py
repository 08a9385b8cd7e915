from .base import VPT, AdaptFormer, BitFit, ConvAdapter, LoRA, Mona
from .protune import ConvPromptBlock, TokenPromptBlock

__all__ = [
    'ConvPromptBlock', 'TokenPromptBlock', 'BitFit', 'LoRA', 'AdaptFormer',
    'ConvAdapter', 'Mona', 'VPT'
]
