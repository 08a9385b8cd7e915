from .atomic_save import (AtomicLocalBackend, atomic_write,
                          register_atomic_save)
from .checkpoint import load_local_checkpoint, register_checkpoint_loader
from .hashing import file_sha256
from .model import SUPPORTED_SCOPES, build_model, check_scope
from .params import PARTS, count_parameters

__all__ = [
    'load_local_checkpoint', 'register_checkpoint_loader', 'PARTS',
    'count_parameters', 'AtomicLocalBackend', 'atomic_write',
    'register_atomic_save', 'SUPPORTED_SCOPES', 'build_model', 'check_scope',
    'file_sha256'
]
