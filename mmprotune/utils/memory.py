"""Exact, deterministic measures of the memory a forward keeps for backward,
without a GPU."""
from typing import Any, Callable, Iterable, Optional, Tuple

import torch
from torch.profiler import ProfilerActivity, profile


def saved_tensor_bytes(fn: Callable[[], Any],
                       exclude: Iterable[torch.Tensor] = ()
                       ) -> Tuple[int, Any]:
    """Bytes of the storages autograd saves for backward while ``fn`` runs.

    Every storage counts once; those of ``exclude`` (e.g. the model's
    parameters and buffers, which exist anyway) are left out. Tensors a
    custom ``autograd.Function`` keeps on ``ctx`` outside
    ``save_for_backward`` are not seen: :func:`retained_bytes` sees them.

    Returns:
        tuple: (bytes, what ``fn`` returned).
    """
    excluded = {t.untyped_storage().data_ptr() for t in exclude}
    storages = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in excluded:
            storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return sum(storages.values()), out


def retained_bytes(fn: Callable[[], Any]) -> Tuple[int, Any]:
    """Bytes the CPU allocator still holds after ``fn`` returns, of what was
    allocated while it ran: its outputs plus everything kept for backward
    (whether saved through ``save_for_backward`` or not).

    Returns:
        tuple: (bytes, what ``fn`` returned).
    """
    with profile(activities=[ProfilerActivity.CPU],
                 profile_memory=True) as prof:
        out = fn()
    return sum(e.self_cpu_memory_usage for e in prof.events()), out


def reset_peak_rss() -> bool:
    """Reset the process's peak resident set size (Linux ``VmHWM``) to its
    current RSS through ``/proc/self/clear_refs``, so that
    :func:`read_peak_rss` sees only later peaks. False where unavailable."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
    except OSError:
        return False
    return True


def read_peak_rss() -> Optional[int]:
    """Peak resident set size of the process in bytes since the last
    :func:`reset_peak_rss` (or its start); None where unavailable."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None
