"""Side-by-side cost of tuning methods: parameters, FLOPs, step and
inference time, memory kept for backward, peak memory, checkpoint size.

Everything is measured on the real model of a config, on one seeded input
batch shared by all methods, side by side (:func:`measure_side_by_side`).
"""
import copy
import io
import multiprocessing
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Dict, Iterable, Iterator, Optional

import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper

from mmprotune.engine.delta import split_delta
from mmprotune.models import PromptedBackboneMixin
from mmprotune.utils import build_model, count_parameters
from mmprotune.utils.memory import (allocator_delta, cuda_allocator,
                                    peak_allocated, read_peak_rss,
                                    reset_peak_rss, retained_bytes,
                                    saved_tensor_bytes)


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
    metainfo = dict(
        img_shape=shape[1:], ori_shape=shape[1:], pad_shape=shape[1:])
    samples = []
    if cfg.default_scope == 'mmpretrain':
        from mmpretrain.structures import DataSample
        for _ in range(batch_size):
            label = torch.randint(0, cfg.model.head.num_classes, (1, ),
                                  generator=generator)
            samples.append(
                DataSample(metainfo=metainfo).set_gt_label(label))
    else:
        from mmengine.structures import PixelData
        from mmseg.structures import SegDataSample
        for _ in range(batch_size):
            sample = SegDataSample(metainfo=metainfo)
            sample.gt_sem_seg = PixelData(data=torch.randint(
                0, 4, (1, img_size, img_size), generator=generator))
            samples.append(sample)
    inputs = [torch.randint(0, 256, shape, dtype=torch.uint8,
                            generator=generator) for _ in samples]
    return dict(inputs=inputs, data_samples=samples)


class _Features(nn.Module):
    """Backbone + neck, for the FLOP counter."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model.extract_feat(x)


#: Timed phases: (result key, :class:`MethodBench` method).
TIMED_PHASES = (('train_step_s', 'train_step'),
                ('backbone_step_s', 'backbone_step'),
                ('inference_s', 'inference'))


class MethodBench:
    """One method's model (train mode), optimiser and data, and what is
    measured on them.

    Args:
        cfg (Config): The method's config.
        batch (dict): The packed batch (see :func:`make_batch`).
    """

    def __init__(self, cfg: Config, batch: dict):
        torch.manual_seed(0)
        self.device = 'cuda' if torch.cuda.is_available() else 'cpu'
        self.model = build_model(cfg).to(self.device)
        self.optim_wrapper = build_optim_wrapper(self.model, cfg.optim_wrapper)
        self.data = self.model.data_preprocessor(copy.deepcopy(batch), True)
        self.eval_data = self.model.data_preprocessor(
            copy.deepcopy(batch), False)
        self.reset_peaks()

    def train_step(self) -> None:
        self.model.train()
        losses = self.model(**self.data, mode='loss')
        loss, _ = self.model.parse_losses(losses)
        self.optim_wrapper.update_params(loss)

    def backbone_step(self) -> None:
        """Forward and backward of the backbone alone (where the methods
        differ); a frozen backbone without prompts has no backward."""
        self.model.train()
        outs = self.model.backbone(self.data['inputs'])
        loss = sum(out.float().mean() for out in outs)
        if loss.requires_grad:
            loss.backward()
        self.optim_wrapper.zero_grad()

    def inference(self) -> None:
        self.model.eval()
        with torch.no_grad():
            self.model(**self.eval_data, mode='predict')

    def seconds(self, phase: str) -> float:
        """Wall time of one call of ``phase`` (a method name above)."""
        if self.device == 'cuda':
            torch.cuda.synchronize()
        start = time.perf_counter()
        getattr(self, phase)()
        if self.device == 'cuda':
            torch.cuda.synchronize()
        return time.perf_counter() - start

    def reset_peaks(self) -> None:
        reset_peak_rss()

    def held_tensors(self) -> Iterator[torch.Tensor]:
        """The tensors a training step starts with: the model's parameters,
        gradients and buffers, the optimiser's state and both batches."""
        yield from self.model.parameters()
        yield from (p.grad for p in self.model.parameters()
                    if p.grad is not None)
        yield from self.model.buffers()
        for state in self.optim_wrapper.optimizer.state.values():
            yield from (v for v in state.values()
                        if isinstance(v, torch.Tensor))
        yield from (self.data['inputs'], self.eval_data['inputs'])

    def peaks(self) -> dict:
        """Peak process RSS since :meth:`reset_peaks`, then the allocator's
        peak in one more training step, counted from zero
        (``peak_bytes``; :func:`mmprotune.utils.memory.peak_allocated`, with
        :meth:`held_tensors` as the start on the CPU). That step starts from
        a fixed seed: the heads' samplers draw at random (Mask R-CNN's
        peak, in its heads' backward, moves with what they draw)."""
        result = dict(peak_rss_bytes=read_peak_rss())
        torch.manual_seed(0)
        result['peak_bytes'], _ = peak_allocated(
            self.train_step, self.held_tensors(), self.device)
        return result

    def figures(self) -> dict:
        """See :func:`model_figures`."""
        return model_figures(self.model, self.data)


def model_figures(model: nn.Module, data: dict) -> dict:
    """What a model costs besides time, on one packed training batch.

    Args:
        model (nn.Module): A detector, segmentor or classifier (left in
            train mode).
        data (dict): The output of its ``data_preprocessor`` in training mode
            (``inputs``: (N, 3, H, W), ``data_samples``).

    Returns:
        dict: ``params`` (:func:`mmprotune.utils.count_parameters`),
        ``flops_backbone_neck`` (forward), the bytes autograd saves for
        backward in the training loss (``saved_bytes_model``) and in the
        backbone alone (``saved_bytes_backbone``), the bytes the allocator
        keeps for the backbone's backward (``retained_bytes_backbone``: the
        CPU profiler's events, or on CUDA ``torch.cuda.memory_allocated``
        after the forward, graph alive, minus before), the backbone
        forward's CUDA peak over that start (``cuda_peak_bytes_backbone``,
        None on the CPU), and the checkpoint sizes: the whole model
        (``checkpoint_bytes_full``) and the delta of a frozen backbone
        (``checkpoint_bytes_delta``, None for a backbone that is not a
        ``ProTune*`` one).
    """
    inputs = data['inputs']
    params = list(model.parameters()) + list(model.buffers())
    result = dict(params=count_parameters(model))
    with torch.no_grad():  # the forward FLOPs; the same on every path
        result['flops_backbone_neck'] = FlopAnalyzer(
            _Features(model).eval(), (inputs, )).total()
    model.train()
    result['saved_bytes_model'], losses = saved_tensor_bytes(
        lambda: model(**data, mode='loss'), params)
    del losses
    result['saved_bytes_backbone'], out = saved_tensor_bytes(
        lambda: model.backbone(inputs), params)
    del out
    if inputs.is_cuda:  # the CUDA allocator's own statistics
        (result['retained_bytes_backbone'],
         result['cuda_peak_bytes_backbone'], out) = allocator_delta(
             lambda: model.backbone(inputs), cuda_allocator(inputs.device))
    else:  # the CPU profiler's memory events
        result['retained_bytes_backbone'], out = retained_bytes(
            lambda: model.backbone(inputs))
        result['cuda_peak_bytes_backbone'] = None
    del out
    state = model.state_dict()
    result['checkpoint_bytes_full'] = serialized_size(state)
    result['checkpoint_bytes_delta'] = serialized_size(
        split_delta(model, state)[0]) if isinstance(
            model.backbone, PromptedBackboneMixin) else None
    return result


#: The :class:`MethodBench` of a worker process.
_BENCH: Optional[MethodBench] = None


def _start_worker(cfg: Config, batch: dict) -> None:
    global _BENCH
    MMLogger.get_instance('benchmark', log_level='WARNING')  # quiet builds
    _BENCH = MethodBench(cfg, batch)


def _call(method: str, *args):
    return getattr(_BENCH, method)(*args)


class MethodWorker:
    """The spawned process that holds one method's :class:`MethodBench`
    (built there by ``_start_worker(cfg, batch)``); calling it runs one of
    the bench's methods there and returns its result.

    A process that dies (e.g. killed for lack of memory) is an error naming
    the method, never a wait for an answer that cannot come.
    """

    def __init__(self, name: str, cfg: Config, batch: dict, context):
        self.name = name
        self.pool = ProcessPoolExecutor(
            1, mp_context=context, initializer=_start_worker,
            initargs=(cfg, batch))

    def __call__(self, method: str, *args):
        return self.submit(_call, method, *args)

    def submit(self, fn: Callable, *args):
        """``fn(*args)`` in the process, waited for."""
        try:
            return self.pool.submit(fn, *args).result()
        except BrokenProcessPool as error:
            raise RuntimeError(
                f'the process measuring {self.name!r} died ({error}); if it '
                'was killed for lack of memory, measure fewer methods at a '
                'time (--methods) or a smaller --img-size') from error

    def close(self) -> None:
        """Stop the process, also while it is still measuring (no public
        way before Python 3.14's ``terminate_workers``)."""
        for process in list(self.pool._processes.values()):
            process.terminate()
        self.pool.shutdown(wait=False, cancel_futures=True)


def measure_side_by_side(configs: Dict[str, Config],
                         batch: dict,
                         steps: int = 5,
                         warmup: int = 2,
                         track: Callable[[Iterable], Iterable] = iter
                         ) -> Dict[str, dict]:
    """All figures of each method (see the module docstring).

    Each method lives in its own spawned process (no method inherits
    another's heap or caches). The timed steps are interleaved: in each
    round every method runs one step, in a rotating order, so that a machine
    whose speed drifts (other jobs, throttling) affects all methods alike;
    each time is the median over ``steps`` rounds after ``warmup`` ones.
    Peak RSS is that of the training steps; the allocator's peak that of one
    more training step after them (:meth:`MethodBench.peaks`).

    Args:
        track: Wraps the rounds, e.g. a progress bar.
    """
    context = multiprocessing.get_context('spawn')
    # a copy for each worker: pickling mmpretrain's DataSample for a process
    # turns its tensors into numpy arrays in place (its ForkingPickler
    # reducer), so a second worker would get arrays
    workers = {
        name: MethodWorker(name, cfg, copy.deepcopy(batch), context)
        for name, cfg in configs.items()
    }
    names = list(workers)
    times = {name: {key: [] for key, _ in TIMED_PHASES} for name in names}
    results = {name: {} for name in names}
    try:
        rounds = [(key, phase, i) for key, phase in TIMED_PHASES
                  for i in range(warmup + steps)]
        for key, phase, i in track(rounds):
            for name in names[i % len(names):] + names[:i % len(names)]:
                seconds = workers[name]('seconds', phase)
                if i >= warmup:
                    times[name][key].append(seconds)
            if phase == 'train_step' and i == warmup + steps - 1:
                for name in names:
                    results[name].update(workers[name]('peaks'))
        for name in names:
            results[name].update(workers[name]('figures'))
            results[name].update(
                {key: statistics.median(t) for key, t in times[name].items()})
    finally:
        for worker in workers.values():
            worker.close()
    return results


def serialized_size(state: dict) -> int:
    """Bytes ``torch.save`` writes for ``state`` (a checkpoint's size)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.tell()
