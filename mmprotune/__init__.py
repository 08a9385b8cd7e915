"""mmprotune: Pro-tuning of frozen backbones for mmdet 3.x and mmseg 1.x.

Importing the package registers the ``ProTune*`` backbones in mmdet's and
mmseg's ``MODELS`` and the prompt blocks in :data:`mmprotune.registry.MODELS`.
"""
from . import models  # noqa: F401  (registers everything)
from .version import __version__

__all__ = ['__version__']
