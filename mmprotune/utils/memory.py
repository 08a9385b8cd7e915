"""Exact, deterministic measures of the memory a forward keeps for backward
and of a step's peak: what autograd saves (any device), what the allocator
keeps and its highest point (the CPU profiler's events on the CPU, the CUDA
caching allocator's own statistics on a GPU)."""
from typing import (Any, Callable, Iterable, List, NamedTuple, Optional,
                    Tuple, Union)

import torch
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile


def saved_tensor_bytes(fn: Callable[[], Any],
                       exclude: Iterable[torch.Tensor] = ()
                       ) -> Tuple[int, Any]:
    """Bytes of the storages autograd saves for backward while ``fn`` runs.

    Every storage counts once; those of ``exclude`` (e.g. the model's
    parameters and buffers, which exist anyway) are left out. Tensors a
    custom ``autograd.Function`` keeps on ``ctx`` outside
    ``save_for_backward`` are not seen: :func:`retained_bytes` sees them.
    The graph is freed with ``fn``'s output, as without the measure.

    Returns:
        tuple: (bytes, what ``fn`` returned).
    """
    excluded = {t.untyped_storage().data_ptr() for t in exclude}
    storages = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in excluded:
            storages[storage.data_ptr()] = storage.nbytes()
        # not the tensor itself: a saved output would hold its own graph
        # through its grad_fn, a cycle the garbage collector cannot see,
        # and the graph would outlive ``fn``'s output (torch's warning)
        return tensor.detach()

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return sum(storages.values()), out


class AllocatorStats(NamedTuple):
    """Readings of one device's allocator (see :func:`allocator_delta`).

    Attributes:
        allocated (Callable[[], int]): Bytes allocated now.
        reset_peak (Callable[[], None]): Start a new peak.
        peak (Callable[[], int]): Highest ``allocated`` since ``reset_peak``.
        synchronize (Callable[[], None]): Wait for queued work (a GPU runs
            asynchronously; the readings are the allocator's, which are
            already up to date, but a kernel failure surfaces here).
    """
    allocated: Callable[[], int]
    reset_peak: Callable[[], None]
    peak: Callable[[], int]
    synchronize: Callable[[], None] = lambda: None


def cuda_allocator(device: Union[str, torch.device, None] = None
                   ) -> AllocatorStats:
    """:class:`AllocatorStats` of a CUDA device's caching allocator
    (``torch.cuda.memory_allocated``: bytes in live tensors, not the cache
    it reserves)."""
    device = torch.device(device if device is not None else 'cuda')
    return AllocatorStats(
        allocated=lambda: torch.cuda.memory_allocated(device),
        reset_peak=lambda: torch.cuda.reset_peak_memory_stats(device),
        peak=lambda: torch.cuda.max_memory_allocated(device),
        synchronize=lambda: torch.cuda.synchronize(device))


def allocator_delta(fn: Callable[[], Any],
                    stats: AllocatorStats) -> Tuple[int, int, Any]:
    """Run ``fn`` and read what the allocator holds because of it.

    Returns:
        tuple: (kept, peak, what ``fn`` returned): ``kept`` is the bytes
        still allocated after ``fn`` returned, with its output (and so its
        autograd graph) alive, over those allocated before; ``peak`` is the
        highest allocation while it ran over the same start.
    """
    stats.synchronize()
    before = stats.allocated()
    stats.reset_peak()
    out = fn()
    stats.synchronize()
    return stats.allocated() - before, stats.peak() - before, out


def retained_bytes(fn: Callable[[], Any],
                   device: Union[str, torch.device] = 'cpu'
                   ) -> Tuple[int, Any]:
    """Bytes the allocator still holds after ``fn`` returns, of what was
    allocated while it ran: its outputs plus everything kept for backward
    (whether saved through ``save_for_backward`` or not).

    On the CPU the profiler's memory events are summed (nothing else counts
    CPU allocations); on a CUDA device, where the CPU profiler sees almost
    nothing, the CUDA allocator's statistics are read
    (:func:`allocator_delta` with :func:`cuda_allocator`).

    Args:
        fn: Runs the forward and returns what keeps its graph alive.
        device (str | torch.device): Where ``fn`` allocates. Default: 'cpu'.

    Returns:
        tuple: (bytes, what ``fn`` returned).
    """
    if torch.device(device).type == 'cuda':
        kept, _, out = allocator_delta(fn, cuda_allocator(device))
        return kept, out
    changes, out = _cpu_memory_changes(fn)
    return sum(changes), out


def peak_bytes(fn: Callable[[], Any],
               device: Union[str, torch.device] = 'cpu') -> Tuple[int, Any]:
    """The highest number of bytes allocated while ``fn`` runs, over those
    allocated when it starts (what it frees before returning included).

    On the CPU the profiler's allocation records (one per allocation or
    free, an operator's own temporaries included) are replayed in time
    order and the running sum's maximum is taken: exact and deterministic.
    On a CUDA device the caching allocator's peak
    (``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats``,
    :func:`allocator_delta`).

    Args:
        fn: What to measure, e.g. one training step.
        device (str | torch.device): Where ``fn`` allocates. Default: 'cpu'.

    Returns:
        tuple: (bytes, what ``fn`` returned).
    """
    if torch.device(device).type == 'cuda':
        _, peak, out = allocator_delta(fn, cuda_allocator(device))
        return peak, out
    changes, out = _cpu_memory_changes(fn)
    running = peak = 0
    for change in changes:
        running += change
        peak = max(peak, running)
    return peak, out


def peak_allocated(fn: Callable[[], Any],
                   held: Iterable[torch.Tensor],
                   device: Union[str, torch.device] = 'cpu'
                   ) -> Tuple[int, Any]:
    """The allocator's peak while ``fn`` runs, counted from zero: the bytes
    allocated when it starts plus :func:`peak_bytes` above them.

    On CUDA the start is ``torch.cuda.memory_allocated`` (so the result is
    ``torch.cuda.max_memory_allocated`` over the call); the CPU has no such
    counter, so there the start is the bytes of ``held``
    (:func:`tensor_bytes`): the tensors ``fn`` starts with, e.g. a model's
    parameters, gradients and buffers, its optimiser's state and the batch.

    Returns:
        tuple: (bytes, what ``fn`` returned).
    """
    start = torch.cuda.memory_allocated(device) \
        if torch.device(device).type == 'cuda' else tensor_bytes(held)
    above, out = peak_bytes(fn, device)
    return start + above, out


def _cpu_memory_changes(fn: Callable[[], Any]) -> Tuple[List[int], Any]:
    """The CPU allocator's changes while ``fn`` runs, in time order: the
    profiler's allocation records (bytes allocated, negative when freed),
    and what ``fn`` returned.

    The records themselves, not the operators' ``self_cpu_memory_usage``: an
    operator's net change is dated at its start, so a free at its end (an
    autograd node releasing what it saved) would come before its
    allocations in time order, and a replay would miss the peak."""
    with profile(activities=[ProfilerActivity.CPU],
                 profile_memory=True) as prof:
        out = fn()
    records = sorted((e for e in prof.profiler.kineto_results.events()
                      if e.name() == '[memory]'
                      and e.device_type() == DeviceType.CPU),
                     key=lambda e: e.start_ns())
    return [e.nbytes() for e in records], out


def tensor_bytes(tensors: Iterable[torch.Tensor]) -> int:
    """Bytes of the storages behind ``tensors``, each storage once (views
    and tensors sharing a storage count once)."""
    storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes()
                for t in tensors}
    return sum(storages.values())


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
