from .hooks import DeltaCheckpointHook
from .optim_constructor import ProTuneOptimWrapperConstructor

__all__ = ['DeltaCheckpointHook', 'ProTuneOptimWrapperConstructor']
