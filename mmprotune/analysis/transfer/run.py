"""One run of the transfer benchmark: a method's config set up for it
(:func:`run_config`), trained and evaluated (:func:`run_once`), and the key
its record is found under (:func:`run_key`)."""
import copy
import io
import json
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.config import Config

from .catalog import TASKS
from .data import data_key, train_indices
from .records import RECORD_PROTOCOL, canonical, key_hash
from .settings import TransferSettings

#: Selection and test phases of a run (:func:`run_key`): what it is
#: evaluated on.
RUN_PHASES = ('select', 'test')

#: The seed of every selection run; the test runs have the seeds after it
#: (:func:`test_seeds`), so that no test run repeats a selection run's
#: training images and initialisation.
SELECT_SEED = 0


def test_seeds(settings: TransferSettings) -> range:
    """The seeds of the test runs: ``settings.seeds`` of them after
    :data:`SELECT_SEED`.

    Example:
        >>> from types import SimpleNamespace
        >>> list(test_seeds(SimpleNamespace(seeds=5)))
        [1, 2, 3, 4, 5]
    """
    return range(SELECT_SEED + 1, SELECT_SEED + 1 + settings.seeds)


#: Points of a selection run's curve: the training loop evaluates on the
#: selection split every ``ceil(iters / CURVE_POINTS)`` iterations and at
#: the last one (the run's score).
CURVE_POINTS = 5


def curve_iters(iters: int, interval: int) -> List[int]:
    """The iterations a training loop of ``iters`` iterations evaluates at
    with ``val_interval=interval``: every ``interval`` and the last.

    Example:
        >>> curve_iters(500, 100), curve_iters(4, 1), curve_iters(7, 2)
        ([100, 200, 300, 400, 500], [1, 2, 3, 4], [2, 4, 6, 7])
    """
    return list(range(interval, iters, interval)) + [iters]


def run_config(config: str,
               data: Dict[str, dict],
               checkpoint: str,
               lr: float,
               train_images: Sequence[int],
               eval_images: Optional[Sequence[int]],
               seed: int,
               iters: int,
               work_dir: str,
               backbone_lr_mult: Optional[float] = None) -> Config:
    """A method's config pointed at the data and checkpoint, with the lr,
    training images, evaluation images, seed and iteration count of one
    run; no checkpoint written.

    Args:
        data (dict[str, dict]): The dataset settings of the training and
            the test split (``'train'``, ``'test'``:
            :func:`~.data.make_target_data`).
        lr (float): The optimizer's lr (a parameter group's ``lr_mult``
            stays relative to it).
        train_images (Sequence[int]): Indices into the training list.
        eval_images (Sequence[int], optional): Training-list indices to
            evaluate on (the selection split), with the test pipeline and
            the task's evaluator, by the training loop's validation
            (``val_dataloader``, ``ValLoop``) every ``ceil(iters /
            CURVE_POINTS)`` iterations and at the last: the run's curve
            (:func:`curve_iters`). None: tested once at the end on the
            validation images (the test split, ``Runner.test``).
        backbone_lr_mult (float, optional): ``lr_mult`` of every
            trainable backbone parameter: ``paramwise_cfg.custom_keys``
            ``'backbone'`` (its own, pretrained weights) and
            ``'backbone.prompts'`` (every new module of a method), in place
            of the config's; the head is not matched and trains at the lr.
            None: the config's ``paramwise_cfg`` as it is.
    """
    cfg = Config.fromfile(config)
    cfg.work_dir = work_dir
    cfg.experiment_name = cfg.visualizer.name = osp.basename(work_dir)
    cfg.log_level = 'ERROR'  # the progress bar and results stay readable
    cfg.randomness = dict(seed=seed)
    cfg.optim_wrapper.optimizer.lr = lr
    if backbone_lr_mult is not None:
        paramwise = cfg.optim_wrapper.get('paramwise_cfg') or {}
        keys = dict(paramwise.get('custom_keys') or {})
        for key in ('backbone', 'backbone.prompts'):
            keys[key] = dict(keys.get(key, {}), lr_mult=backbone_lr_mult)
        cfg.optim_wrapper.paramwise_cfg = dict(paramwise, custom_keys=keys)
    if cfg.model.backbone.init_cfg:  # all but ``scratch``
        cfg.model.backbone.init_cfg.checkpoint = checkpoint
    train_set = cfg.train_dataloader.dataset
    train_set.update(data['train'], indices=list(train_images))
    cfg.test_dataloader.dataset.update(data['test'])
    train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters)
    if eval_images is None:
        cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    else:
        cfg.val_dataloader = dict(
            copy.deepcopy(cfg.test_dataloader),
            dataset=dict(
                copy.deepcopy(train_set),
                pipeline=cfg.test_dataloader.dataset.pipeline,
                indices=list(eval_images)))
        cfg.val_cfg = dict(type='ValLoop')
        cfg.val_evaluator = copy.deepcopy(cfg.test_evaluator)
        train_cfg.update(val_interval=-(-iters // CURVE_POINTS))
    old_iters = cfg.train_cfg.max_iters
    cfg.train_cfg = train_cfg
    for scheduler in cfg.param_scheduler:  # the same shape, over ``iters``
        begin = round(scheduler.begin * iters / old_iters)
        scheduler.update(begin=begin, end=max(
            begin + 1, round(scheduler.end * iters / old_iters)))
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger.interval = max(1, iters // 10)
    return cfg


def run_once(cfg: Config, task: str,
             predictions: Optional[str] = None) -> dict:
    """Train ``cfg`` with a fresh Runner and evaluate it: a selection run
    (a ``val_cfg``, :func:`run_config`) by its training loop's
    validations, the last one its score; a test run by ``Runner.test``
    at the end. Return the ``task``'s ``metrics`` (``TASKS[task]``: name
    -> key of the evaluator's output, times its ``metric_scale``), a
    selection run's ``curve``, a test run's IoU per class (a task with a
    ``class_metric``: the output's key of a class's IoU, ``'{}'`` its name)
    and its predictions of a few test images (with ``predictions``, a
    folder: :func:`save_predictions`), parameter counts, step time, memory
    and checkpoint figures.

    Returns:
        dict: ``train_s`` (a selection run's validations included),
        ``test_s`` (a test run), ``step_s`` (median), ``loss_curve`` (10
        chunk means), the ``metrics``, ``curve`` (a selection run: one
        ``{'iter': ..., <metric>: ...}`` per validation), ``class_iou`` (a
        test run with ``class_metric``: ``{class: IoU}``), ``predictions``
        (a test run with ``predictions``: the files' names),
        ``peak_train_bytes``
        (:func:`peak_train_bytes`), ``trainable_params``,
        ``backbone_trainable_params``, ``saved_bytes`` and
        ``checkpoint_bytes``.
    """
    from mmengine.runner import Runner

    from ..cost.bench import model_figures

    spec = TASKS[task]
    metrics, class_metric = spec['metrics'], spec.get('class_metric')
    scale = spec.get('metric_scale', 1)
    runner = Runner.from_cfg(cfg)
    start = time.perf_counter()
    runner.train()
    train_s = time.perf_counter() - start
    hub = runner.message_hub
    step_s = np.asarray(hub.get_scalar('train/time').data[0]) - np.asarray(
        hub.get_scalar('train/data_time').data[0])
    losses = np.asarray(hub.get_scalar('train/loss').data[0])
    result = dict(
        train_s=train_s,
        step_s=float(np.median(step_s)),
        loss_curve=[float(c.mean()) for c in np.array_split(losses, 10)
                    if len(c)])
    if cfg.val_cfg:  # the validations of the training loop
        points = curve_iters(cfg.train_cfg.max_iters,
                             cfg.train_cfg.val_interval)
        # the last ones: a hub of the same name lives on in the process
        values = {
            name: hub.get_scalar(f'val/{key}').data[0][-len(points):]
            for name, key in metrics.items()
        }
        result['curve'] = [
            dict(iter=it, **{name: scale * float(v[i])
                             for name, v in values.items()})
            for i, it in enumerate(points)
        ]
        result.update(
            {name: point
             for name, point in result['curve'][-1].items()
             if name != 'iter'})
    else:
        start = time.perf_counter()
        tested = runner.test()
        result['test_s'] = time.perf_counter() - start
        # mmseg's IoUMetric returns numpy scalars (np.float32 under numpy 2)
        result.update(
            {name: scale * float(tested[key])
             for name, key in metrics.items()})
        if class_metric:
            classes = runner.test_dataloader.dataset.metainfo['classes']
            result['class_iou'] = {
                name: float(tested[class_metric.format(name)])
                for name in classes}
        if predictions:
            result['predictions'] = save_predictions(
                runner, predictions, spec['package'])
    # after the evaluation: a training step and a training-mode forward
    # update BN statistics
    # the loop's own iterator: a new one of a DataLoader with persistent
    # workers would reset the workers that one still uses
    batch = next(runner.train_loop.dataloader_iterator)
    result['peak_train_bytes'] = peak_train_bytes(runner.model,
                                                  runner.optim_wrapper, batch)
    model = runner.model
    figures = model_figures(model, model.data_preprocessor(batch, True))
    counts = figures['params']
    delta = figures['checkpoint_bytes_delta']
    result.update(
        trainable_params=counts['all']['trainable'],
        backbone_trainable_params=sum(
            counts[part]['trainable']
            for part in ('backbone.prompts', 'backbone (trainable)')),
        saved_bytes=figures['saved_bytes_model'],
        checkpoint_bytes=figures['checkpoint_bytes_full']
        if delta is None else delta)
    stop_workers(runner)
    return result


def stop_workers(runner) -> None:
    """Stop the data-loader worker processes of ``runner``'s loops. A
    loader with persistent workers (and a training loop's iterator) keeps
    them alive as long as the Runner lives, which in a study of many runs
    in one process is to its end: each holds its own copy of the dataset
    and pipeline."""
    for loop in (runner._train_loop, runner._val_loop, runner._test_loop):
        loader = getattr(loop, 'dataloader', None)
        loop_iterator = getattr(loop, 'dataloader_iterator', None)
        for iterator in (getattr(loader, '_iterator', None),
                         getattr(loop_iterator, '_iterator', None)):
            if hasattr(iterator, '_shutdown_workers'):
                iterator._shutdown_workers()


#: How many test images a test run saves its predictions of
#: (:func:`save_predictions`).
PREDICTED_IMAGES = 3


def save_predictions(runner, folder: str, package: str) -> List[str]:
    """Save the trained model's predictions of :data:`PREDICTED_IMAGES`
    test images (fewer for a smaller test split), evenly spaced over it, in
    ``folder``, each named as its image: a segmentor's (``package``
    ``'mmseg'``) as a palette PNG (the dataset's palette; the image's full
    size), a detector's (``'mmdet'``) as JSON (``bboxes`` in the image's
    pixels, x1 y1 x2 y2, ``scores``, ``labels``: every box it keeps);
    return the files' names."""
    from mmengine.dataset import pseudo_collate

    from ...utils import atomic_write
    dataset = runner.test_dataloader.dataset
    names = []
    indices = np.linspace(0, len(dataset) - 1, PREDICTED_IMAGES).round()
    for index in sorted(set(indices.astype(int).tolist())):
        sample, = runner.model.test_step(pseudo_collate([dataset[index]]))
        stem = osp.splitext(osp.basename(sample.img_path))[0]
        if package == 'mmdet':
            name, content = f'{stem}.json', json.dumps({
                key: sample.pred_instances[key].tolist()
                for key in ('bboxes', 'scores', 'labels')}).encode()
        else:
            name, content = f'{stem}.png', _palette_png(
                sample.pred_sem_seg.data[0], dataset.metainfo['palette'])
        atomic_write(content, osp.join(folder, name))
        names.append(name)
    return names


def _palette_png(label, palette) -> bytes:
    """The PNG bytes of a label map (an H x W tensor) in ``palette``."""
    from PIL import Image
    image = Image.fromarray(label.cpu().numpy().astype(np.uint8), mode='P')
    image.putpalette(np.asarray(palette, np.uint8).flatten().tolist())
    buffer = io.BytesIO()
    image.save(buffer, format='PNG')
    return buffer.getvalue()


def peak_train_bytes(model, optim_wrapper, batch: dict) -> int:
    """Peak memory of one training step of a trained ``model``
    (:func:`~mmprotune.utils.memory.peak_allocated` of
    ``model.train_step(batch, optim_wrapper)``: data preprocessing,
    forward, backward, optimizer step), counted from the bytes of its
    parameters, buffers and optimizer states (which exist after a first
    step) on the CPU, from the CUDA allocator's count on a GPU.

    Args:
        model (BaseModel): The Runner's model.
        optim_wrapper (OptimWrapper): Its optimizer wrapper.
        batch (dict): One batch of its training dataloader.
    """
    import torch

    from ...utils.memory import peak_allocated
    states = [
        value for state in optim_wrapper.optimizer.state.values()
        for value in state.values() if torch.is_tensor(value)
    ]
    model.train()
    peak, _ = peak_allocated(
        lambda: model.train_step(batch, optim_wrapper),
        held=(*model.parameters(), *model.buffers(), *states),
        device=next(model.parameters()).device)
    return peak


def run_key(settings: TransferSettings,
            method: str,
            train_size: int,
            seed: int,
            phase: str,
            lr: float,
            config: Optional[str] = None,
            backbone_lr_mult: Optional[float] = None) -> dict:
    """Every setting that affects the run of ``method`` on ``train_size``
    images with ``seed`` at ``lr`` (and ``backbone_lr_mult``) in ``phase``:
    the key of its record. Nothing of the machine (no path), so records
    move between machines.

    Args:
        phase (str): ``'select'`` (evaluated on the selection split) or
            ``'test'`` (on the test split), see :data:`RUN_PHASES`.
        config (str, optional): The method's config. Default:
            :meth:`~.settings.TransferSettings.config`.
        backbone_lr_mult (float, optional): See :func:`run_config`.

    Returns:
        dict: ``protocol`` (``RECORD_PROTOCOL``), ``backbone``, ``task``,
        ``method``, ``phase``, ``train_size``, ``seed``, ``train_images``
        (the hash of :func:`~.data.train_indices`), ``iters``, ``curve_points``
        (:data:`CURVE_POINTS`), ``lr``, ``backbone_lr_mult``, ``config``
        (the hash of the resolved config, its ``_base_`` files included),
        ``source`` (every argument of the source backbone), ``data``
        (:func:`~.data.data_key`: the selection and pool images, and a
        test run's test images) and
        ``versions`` (mmprotune, the task's package (mmseg, mmpretrain),
        mmengine).

    Raises:
        ValueError: ``phase`` is not one of :data:`RUN_PHASES`.
    """
    import importlib

    import mmengine

    from ... import __version__
    if phase not in RUN_PHASES:
        raise ValueError(f'phase: unknown {phase!r}; allowed: '
                         f'{", ".join(RUN_PHASES)}')
    package = TASKS[settings.task]['package']
    cfg = Config.fromfile(
        config or settings.config(method))
    return canonical(
        dict(
            protocol=RECORD_PROTOCOL,
            backbone=settings.backbone,
            task=settings.task,
            method=method,
            phase=phase,
            train_size=train_size,
            seed=seed,
            train_images=key_hash(train_indices(settings, train_size, seed)),
            iters=settings.iters[train_size],
            curve_points=CURVE_POINTS,
            lr=lr,
            backbone_lr_mult=backbone_lr_mult,
            config=key_hash(cfg.to_dict()),
            source=settings.source,
            data=data_key(settings, phase),
            versions={
                'mmprotune': __version__,
                package: importlib.import_module(package).__version__,
                'mmengine': mmengine.__version__
            }))
