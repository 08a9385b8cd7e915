"""``peak_rss_bytes`` sees the peak of the function it runs, not an earlier
one of the process."""
import sys

import pytest
import torch

from mmprotune.utils.memory import peak_rss_bytes

linux_only = pytest.mark.skipif(
    not sys.platform.startswith('linux'), reason='reads /proc/self')
MIB = 2**20


@linux_only
def test_peak_rss_sees_the_functions_peak_and_forgets_earlier_ones():
    big, total = peak_rss_bytes(
        lambda: torch.ones(256 * MIB // 4).sum().item())
    assert total == 256 * MIB // 4
    small, _ = peak_rss_bytes(lambda: torch.ones(16).sum().item())
    # the 256 MiB tensor was filled (resident) and freed again
    assert big - small > 200 * MIB
