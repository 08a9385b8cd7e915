"""The peak-RSS reading sees the peak after its reset, not an earlier one of
the process; the allocator's peak of a function sees what it freed before
returning, which the bytes it keeps do not."""
import subprocess
import sys

import pytest
import torch

from mmprotune.testing import repo_env
from mmprotune.utils.memory import peak_bytes, retained_bytes

MIB = 2**20


#: In a fresh Python: a long-lived process (the suite's) may hold enough
#: freed, still resident heap to serve the 256 MiB without a new page.
PEAK_RSS_SCRIPT = """
import torch
from mmprotune.utils.memory import read_peak_rss, reset_peak_rss
assert reset_peak_rss()
total = torch.ones(2**26).sum().item()  # 256 MiB filled, then freed
assert total == 2**26
big = read_peak_rss()
assert reset_peak_rss()
torch.ones(16).sum()
print(big, read_peak_rss())
"""


@pytest.mark.skipif(
    not sys.platform.startswith('linux'), reason='reads /proc/self')
def test_peak_rss_sees_peaks_after_the_reset_only():
    proc = subprocess.run([sys.executable, '-c', PEAK_RSS_SCRIPT],
                          env=repo_env(), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    big, small = map(int, proc.stdout.split())
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
