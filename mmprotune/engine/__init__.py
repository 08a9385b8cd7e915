from .optim_constructor import ProTuneOptimWrapperConstructor

__all__ = ['ProTuneOptimWrapperConstructor']
