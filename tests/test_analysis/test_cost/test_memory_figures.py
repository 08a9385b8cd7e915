"""The memory figures of the cost report against independent counts: the
analytic sizes of what a conv/ReLU chain keeps for backward, worked out by
hand from shapes and dtypes (not by a second copy of the measuring code)."""
import os
import weakref

import pytest
import torch
import torch.nn as nn

from mmprotune.analysis.cost.report import peak_above_head_only
from mmprotune.utils.memory import (AllocatorStats, allocator_delta,
                                    peak_allocated, retained_bytes,
                                    saved_tensor_bytes)

N, H, W = 2, 16, 16
CHANNELS = (3, 8, 16)


def _chain(dtype, device='cpu'):
    """conv(3->8) -> ReLU -> conv(8->16) -> ReLU, 'same' size (padding 1)."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(CHANNELS[0], CHANNELS[1], 3, padding=1), nn.ReLU(),
        nn.Conv2d(CHANNELS[1], CHANNELS[2], 3, padding=1),
        nn.ReLU()).to(device, dtype)


def _map_bytes(channels, dtype):
    return N * channels * H * W * torch.empty((), dtype=dtype).element_size()


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_saved_and_kept_bytes_of_a_conv_chain_by_hand(dtype):
    net = _chain(dtype)
    x = torch.randn(N, CHANNELS[0], H, W, dtype=dtype)
    # Autograd saves: conv1 its input x (its weight needs a gradient); ReLU1
    # its output r1, which conv2 saves as its input (one storage); ReLU2 its
    # output r2. Weights are parameters (left out); conv outputs are not
    # saved.
    saved = _map_bytes(CHANNELS[0], dtype) + _map_bytes(
        CHANNELS[1], dtype) + _map_bytes(CHANNELS[2], dtype)
    assert saved_tensor_bytes(lambda: net(x), net.parameters())[0] == saved
    # The allocator still holds what the forward allocated and kept: r1 and
    # r2 (the output); x existed before, the conv outputs were freed.
    kept = _map_bytes(CHANNELS[1], dtype) + _map_bytes(CHANNELS[2], dtype)
    assert retained_bytes(lambda: net(x))[0] == kept
    # a frozen chain on an input without gradient keeps nothing for backward
    net.requires_grad_(False)
    assert saved_tensor_bytes(lambda: net(x), net.parameters())[0] == 0


def test_saved_bytes_free_the_graph_with_the_output():
    """The measured forward's graph dies with its output, as an unmeasured
    one's: a study measures every run in one process (leaking each run's
    graph of a training batch grew one to 12 GB)."""
    net = _chain(torch.float32)
    x = torch.randn(N, CHANNELS[0], H, W)
    for measure in (lambda fn: fn(), lambda fn: saved_tensor_bytes(fn)[1]):
        out = measure(lambda: net(x))
        # the last ReLU saves its own output, the case that made a cycle
        alive = weakref.ref(out)
        del out
        assert alive() is None


def _two_linears(method):
    """A training step of backbone ``Linear(D, D)`` -> head ``Linear(D, K)``
    (no biases, float32, plain SGD: no optimiser state) on a batch of N, the
    output's gradient given: ``full`` trains both, ``head-only`` the head,
    ``prompt`` the head and a prompt (1, D) added to the input of the frozen
    backbone. Returns the step and the tensors it starts with."""
    n, d, k = 4, 64, 8
    torch.manual_seed(0)
    backbone = nn.Linear(d, d, bias=False).requires_grad_(method == 'full')
    head = nn.Linear(d, k, bias=False)
    prompt = nn.Parameter(torch.zeros(1, d))
    x, grad_y = torch.randn(n, d), torch.ones(n, k)
    trained = [p for p in (*backbone.parameters(), *head.parameters())
               if p.requires_grad] + ([prompt] if method == 'prompt' else [])
    optimizer = torch.optim.SGD(trained, lr=0.1)

    def step():
        y = head(backbone(x + prompt if method == 'prompt' else x))
        y.backward(grad_y)
        optimizer.step()
        optimizer.zero_grad()  # frees the gradients

    step()  # once first, as the report measures a step after others
    held = [backbone.weight, head.weight, x, grad_y]
    return step, held + ([prompt] if method == 'prompt' else [])


def test_peak_of_a_training_step_and_its_share_above_head_only_by_hand():
    """The allocator's whole-step peak (counted from zero) and the goal's
    figure ``(peak - head-only's) / full's`` against counts by hand from
    the shapes (float32: 4 bytes). A replay that misdates a free (the
    operators' net changes, dated at their start) misses these peaks."""
    n, d, k = 4, 64, 8
    f, y, w1, w2, p = (4 * n * d, 4 * n * k, 4 * d * d, 4 * k * d, 4 * d)
    start = w1 + w2 + f + y  # the weights, x (N, D) and grad_y (N, K)
    by_hand = dict(
        # the backbone's output is freed by the head's backward, before
        # W1's gradient: y, W2's gradient, f's gradient, W1's gradient
        full=start + y + w2 + f + w1,
        # forward f and y, then W2's gradient (f needs none)
        **{'head-only': start + f + y + w2},
        # f, y, W2's gradient and f's; then f freed, the prompted input's
        # gradient (N, D): the same sum
        prompt=start + p + y + w2 + f + f)
    peaks = {
        method: peak_allocated(*_two_linears(method))[0]
        for method in by_hand
    }
    assert peaks == by_hand
    shares = peak_above_head_only(
        {method: dict(peak_bytes=peak) for method, peak in peaks.items()})
    full, frozen = by_hand['full'], by_hand['head-only']
    assert shares == {
        'full': (full - frozen) / full,
        'head-only': 0.0,
        'prompt': (by_hand['prompt'] - frozen) / full
    }
    # without full or head-only there is no such figure
    assert peak_above_head_only(dict(prompt=dict(peak_bytes=1))) == {}


class Ledger:
    """An allocator that counts the bytes of the tensors it handed out and
    that are still alive, with a resettable peak."""

    def __init__(self):
        self.now = self.high = 0

    def empty(self, numel):
        tensor = torch.empty(numel, dtype=torch.uint8)
        self.now += numel
        self.high = max(self.high, self.now)
        weakref.finalize(tensor, self._free, numel)
        return tensor

    def _free(self, numel):
        self.now -= numel

    def reset(self):
        self.high = self.now

    def stats(self):
        return AllocatorStats(allocated=lambda: self.now,
                              reset_peak=self.reset, peak=lambda: self.high)


def test_allocator_delta_counts_what_the_call_keeps_and_its_own_peak():
    """The device-independent part of the CUDA measure: before/after with
    the output alive, a peak that starts with the call."""
    ledger = Ledger()
    existing = ledger.empty(1000)  # allocated before: not counted
    spike = ledger.empty(5000)
    del spike  # an earlier peak: not counted

    def forward():
        temporary = ledger.empty(300)  # freed inside
        del temporary
        return [ledger.empty(100), ledger.empty(20)]

    kept, peak, out = allocator_delta(forward, ledger.stats())
    assert (kept, peak) == (120, 300)
    assert [t.numel() for t in out] == [100, 20]
    assert existing.numel() == 1000


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_kept_bytes_on_cuda_by_hand():
    """On CUDA the CPU profiler sees nothing: the allocator's statistics
    give the same hand count as on the CPU (sizes are multiples of the
    allocator's 512-byte blocks)."""
    dtype = torch.float32
    net = _chain(dtype, 'cuda')
    x = torch.randn(N, CHANNELS[0], H, W, dtype=dtype, device='cuda')
    kept = _map_bytes(CHANNELS[1], dtype) + _map_bytes(CHANNELS[2], dtype)
    net(x)  # once first: cuDNN's handle and any lazily kept buffers
    assert retained_bytes(lambda: net(x), x.device)[0] == kept


TINY_UPERNET = """
_base_ = '{base}'
model = dict(
    backbone=dict(depth=18, base_channels=8, stem_channels=8),
    decode_head=dict(in_channels=[8, 16, 32, 64], channels=16),
    auxiliary_head=dict(in_channels=32, channels=8))
"""


@pytest.mark.slow
@pytest.mark.parametrize('device', [
    'cpu',
    pytest.param('cuda', marks=pytest.mark.skipif(
        not torch.cuda.is_available(), reason='needs CUDA'))
])
def test_saved_and_kept_bytes_agree_in_rank(device, tmp_path):
    """The report's two memory figures of the backbone, saved for backward
    (autograd's hooks) and kept (the allocator: the CPU profiler, or the CUDA
    allocator's statistics), order full fine-tuning, head-only and
    Pro-tuning alike on each device."""
    from mmengine.config import Config

    from mmprotune.analysis.cost.bench import make_batch, model_figures
    from mmprotune.analysis.methods import method_variants
    from mmprotune.testing import REPO_ROOT
    from mmprotune.utils import build_model
    path = tmp_path / 'tiny_upernet.py'
    path.write_text(TINY_UPERNET.format(base=os.path.join(
        REPO_ROOT,
        'configs/upernet/upernet_protune-r50_4xb4-160k_ade20k-512x512.py')))
    cfg = Config.fromfile(str(path))
    batch = make_batch(cfg, 2, 64)
    figures = {}
    for method, variant in method_variants(
            cfg, ['full', 'head-only', 'protune']).items():
        torch.manual_seed(0)
        model = build_model(variant).to(device)
        data = model.data_preprocessor(batch, True)
        figures[method] = model_figures(model, data)
    saved = {m: f['saved_bytes_backbone'] for m, f in figures.items()}
    kept = {m: f['retained_bytes_backbone'] for m, f in figures.items()}
    assert saved['head-only'] == 0
    assert sorted(saved, key=saved.get) == sorted(kept, key=kept.get) == [
        'head-only', 'protune', 'full']
    for method in figures:
        peak = figures[method]['cuda_peak_bytes_backbone']
        if device == 'cuda':
            assert peak >= kept[method]
        else:
            assert peak is None
