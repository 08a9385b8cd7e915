"""The peak-RSS reading sees the peak after its reset, not an earlier one of
the process."""
import sys

import pytest
import torch

from mmprotune.utils.memory import read_peak_rss, reset_peak_rss

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
