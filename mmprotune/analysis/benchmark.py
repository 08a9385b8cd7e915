"""Side-by-side cost of tuning methods: parameters, FLOPs, step and
inference time, memory kept for backward, peak memory, checkpoint size.

Everything is measured on the real model of a config, on one seeded input
batch shared by all methods; :func:`measure_in_subprocess` gives each method
a fresh process, so no method inherits another's heap (peak RSS) or warm
caches.
"""
import copy
import io
import multiprocessing
import statistics
import time
from typing import Callable, Dict, List

import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import build_optim_wrapper
from mmengine.registry import MODELS, DefaultScope

from mmprotune.engine.delta import split_delta
from mmprotune.models import PromptedBackboneMixin
from mmprotune.utils import count_parameters
from mmprotune.utils.memory import (peak_rss_bytes, retained_bytes,
                                     saved_tensor_bytes)

#: Methods :func:`method_variants` derives from one Pro-tuning config.
METHODS = ('full', 'head-only', 'protune-naive', 'protune')


def method_variants(cfg: Config, methods: List[str]) -> Dict[str, Config]:
    """Configs that differ from a Pro-tuning ``cfg`` only in the backbone.

    - ``full``: the wrapped upstream type, trained whole (its own
      ``frozen_stages``, e.g. 1 for ResNet as upstream);
    - ``head-only``: the frozen backbone without prompts;
    - ``protune-naive``: Pro-tuning with plain autograd;
    - ``protune``: the config as is (frozen-aware backward).
    """
    backbone = cfg.model.backbone
    if not backbone.type.startswith('ProTune'):
        raise ValueError(f'--methods needs a Pro-tuning config (a ProTune* '
                         f'backbone), got backbone type {backbone.type!r}')
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise ValueError(f'unknown method(s) {unknown}; allowed: '
                         f'{list(METHODS)}')
    variants = {}
    for method in methods:
        variant = copy.deepcopy(cfg)
        vb = variant.model.backbone
        if method == 'full':
            vb.type = vb.type[len('ProTune'):]
            vb.pop('prompt_cfg', None)
            vb.pop('efficient_backward', None)
        elif method == 'head-only':
            vb.setdefault('prompt_cfg', {})['stages'] = []
        elif method == 'protune-naive':
            vb.efficient_backward = False
        variants[method] = variant
    return variants


def build_model(cfg: Config) -> nn.Module:
    """The config's model, without pretrained loading, BN instead of
    SyncBN (one process), in train mode."""
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.init_cfg = None
    model_cfg.pop('pretrained', None)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(model_cfg)
    model.init_weights()
    return revert_sync_batchnorm(model).train()


def make_batch(cfg: Config, batch_size: int, img_size: int,
               seed: int = 0) -> dict:
    """A seeded, packed batch of random images with random targets, in the
    format the scope's ``data_preprocessor`` takes."""
    generator = torch.Generator().manual_seed(seed)
    shape = (3, img_size, img_size)
    if cfg.default_scope == 'mmdet':
        from mmdet.testing import demo_mm_inputs
        torch.manual_seed(seed)
        with_mask = 'mask_head' in cfg.model.get('roi_head', {})
        return demo_mm_inputs(batch_size, [shape] * batch_size,
                              num_items=[4] * batch_size, num_classes=3,
                              with_mask=with_mask)
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    samples = []
    for _ in range(batch_size):
        sample = SegDataSample(metainfo=dict(
            img_shape=shape[1:], ori_shape=shape[1:], pad_shape=shape[1:]))
        sample.gt_sem_seg = PixelData(data=torch.randint(
            0, 4, (1, img_size, img_size), generator=generator))
        samples.append(sample)
    inputs = [torch.randint(0, 256, shape, dtype=torch.uint8,
                            generator=generator) for _ in samples]
    return dict(inputs=inputs, data_samples=samples)


def _median_seconds(fn: Callable, steps: int, warmup: int) -> float:
    times = []
    for i in range(warmup + steps):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


class _Features(nn.Module):
    """Backbone + neck, for the FLOP counter."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model.extract_feat(x)


def measure(cfg: Config, batch: dict, steps: int = 5,
            warmup: int = 2) -> dict:
    """All figures of one method (see the module docstring)."""
    torch.manual_seed(0)
    model = build_model(cfg)
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    model.to(device)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    data = model.data_preprocessor(copy.deepcopy(batch), True)
    inputs = data['inputs']
    params = list(model.parameters()) + list(model.buffers())

    def train_step():
        losses = model(**data, mode='loss')
        loss, _ = model.parse_losses(losses)
        optim_wrapper.update_params(loss)

    def backbone_step():
        """Forward and backward of the backbone alone (where the methods
        differ); a frozen backbone without prompts has no backward."""
        outs = model.backbone(inputs)
        loss = sum(out.float().mean() for out in outs)
        if loss.requires_grad:
            loss.backward()

    result = dict(params=count_parameters(model))
    with torch.no_grad():  # the forward FLOPs; the same on every path
        result['flops_backbone_neck'] = FlopAnalyzer(
            _Features(model).eval(), (inputs, )).total()
    model.train()
    if device == 'cuda':
        torch.cuda.reset_peak_memory_stats()
    result['peak_rss_bytes'], result['train_step_s'] = peak_rss_bytes(
        lambda: _median_seconds(train_step, steps, warmup))
    result['cuda_peak_bytes'] = torch.cuda.max_memory_allocated() \
        if device == 'cuda' else None
    result['backbone_step_s'] = _median_seconds(backbone_step, steps, warmup)
    optim_wrapper.zero_grad()
    result['saved_bytes_model'], losses = saved_tensor_bytes(
        lambda: model(**data, mode='loss'), params)
    del losses
    result['saved_bytes_backbone'], out = saved_tensor_bytes(
        lambda: model.backbone(inputs), params)
    del out
    result['retained_bytes_backbone'], out = retained_bytes(
        lambda: model.backbone(inputs))
    del out
    model.eval()
    eval_data = model.data_preprocessor(copy.deepcopy(batch), False)
    with torch.no_grad():
        result['inference_s'] = _median_seconds(
            lambda: model(**eval_data, mode='predict'), steps, warmup)
    state = model.state_dict()
    result['checkpoint_bytes_full'] = serialized_size(state)
    result['checkpoint_bytes_delta'] = serialized_size(
        split_delta(model, state)[0]) if isinstance(
            model.backbone, PromptedBackboneMixin) else None
    return result


def measure_in_subprocess(cfg: Config, batch: dict, steps: int = 5,
                          warmup: int = 2) -> dict:
    """:func:`measure` in a freshly spawned Python process."""
    with multiprocessing.get_context('spawn').Pool(1) as pool:
        return pool.apply(_quiet_measure, (cfg, batch, steps, warmup))


def _quiet_measure(cfg: Config, batch: dict, steps: int,
                   warmup: int) -> dict:
    MMLogger.get_instance('benchmark', log_level='WARNING')  # quiet builds
    return measure(cfg, batch, steps, warmup)


def serialized_size(state: dict) -> int:
    """Bytes ``torch.save`` writes for ``state`` (a checkpoint's size)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.tell()
