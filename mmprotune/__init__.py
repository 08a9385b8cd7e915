"""mmprotune: Pro-tuning of frozen backbones for mmdet 3.x, mmseg 1.x and
mmpretrain 1.x.

Importing the package (``custom_imports=dict(imports=['mmprotune'])``)
registers the ``ProTune*`` backbones in mmdet's, mmseg's and mmpretrain's
``MODELS``, the ``CamVidDataset`` in mmseg's ``DATASETS``, the
``PerClassIoUMetric`` in mmseg's ``METRICS``, the tuning
modules (prompt blocks, PEFT methods) in :data:`mmprotune.registry.MODELS`,
the ``ProTuneOptimWrapperConstructor``, the ``DeltaCheckpointHook``, a local
checkpoint loader that works under torch >= 2.6 (see
:mod:`mmprotune.utils.checkpoint`) and crash-safe local checkpoint writing
(see :mod:`mmprotune.utils.atomic_save`).
"""
from . import datasets, engine, evaluation, models  # noqa: F401 (registers)
from .utils import register_atomic_save, register_checkpoint_loader
from .version import __version__

register_checkpoint_loader()
register_atomic_save()

__all__ = ['__version__']
