from .hooks import DeltaCheckpointHook
from .optim_constructor import ProTuneOptimWrapperConstructor
from .optim_wrapper import BF16AutocastOptimWrapper

__all__ = [
    'BF16AutocastOptimWrapper', 'DeltaCheckpointHook',
    'ProTuneOptimWrapperConstructor'
]
