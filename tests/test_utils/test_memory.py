"""The peak-RSS reading sees the peak after its reset, not an earlier one of
the process; the allocator's peak of a function sees what it freed before
returning, which the bytes it keeps do not."""
import sys

import pytest
import torch

from mmprotune.utils.memory import (peak_bytes, read_peak_rss,
                                    reset_peak_rss, retained_bytes)

MIB = 2**20


@pytest.mark.skipif(
    not sys.platform.startswith('linux'), reason='reads /proc/self')
def test_peak_rss_sees_peaks_after_the_reset_only():
    assert reset_peak_rss()
    total = torch.ones(256 * MIB // 4).sum().item()  # filled, then freed
    assert total == 256 * MIB // 4
    big = read_peak_rss()
    assert reset_peak_rss()
    torch.ones(16).sum()
    small = read_peak_rss()
    assert big - small > 200 * MIB


def _allocate_and_free() -> float:
    """Fill a 64 MiB tensor, keep only its sum (4 bytes)."""
    return torch.ones(64 * MIB // 4).sum()


def test_peak_bytes_sees_a_freed_tensor():
    peak, total = peak_bytes(_allocate_and_free)
    assert total.item() == 64 * MIB // 4
    kept, _ = retained_bytes(_allocate_and_free)
    assert peak >= 64 * MIB
    assert 0 <= kept < MIB
    # deterministic: the same events every time
    assert peak_bytes(_allocate_and_free)[0] == peak
