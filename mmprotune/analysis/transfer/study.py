"""The transfer benchmark's study: per split size and method, the selection
runs over the setting grid (:func:`settings_grid`, widened where the choice
lands on its edge: :func:`next_lr`), the choice, then the test runs, each
taken from a record or trained and recorded (:func:`run_all`)."""
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence

from mmengine.config import Config

from ...utils import build_model
from ..machine import code_version, machine
from .catalog import TASKS, is_real
from .data import select_indices, train_indices
from .records import find_record, record_name, run_name, write_record
from .run import SELECT_SEED, run_config, run_key, run_once, test_seeds
from .settings import TransferSettings
from .stats import choose_setting, lr_at_edge

#: The most lrs a method's selection adds beyond each edge of the grid.
MAX_WIDENING = 3
#: The subfolder of a records folder that holds the predictions a real
#: task's test runs of the first test seed save
#: (:func:`~.run.save_predictions`), one folder per record.
PREDICTIONS_FOLDER = 'predictions'


def backbone_trainable(config: str) -> List[str]:
    """The trainable parameters under ``backbone.`` of ``config``'s model,
    if its backbone starts from the source checkpoint (``init_cfg``; not
    ``scratch``): full fine-tuning's pretrained weights, and the new
    tensors the frozen-backbone methods insert under ``backbone.prompts``
    (prompts, LoRA, adapters, BitFit's bias offsets). Found from the model
    itself (``requires_grad``), not a list of methods; none for head-only.

    A method with such parameters is tried at each of
    :attr:`~.settings.TransferSettings.backbone_lr_mults`
    (:func:`~.run.run_config`).
    """
    cfg = Config.fromfile(config)
    if not cfg.model.backbone.get('init_cfg'):
        return []
    return [
        name for name, param in build_model(cfg).named_parameters()
        if param.requires_grad and name.startswith('backbone.')
    ]


def settings_grid(settings: TransferSettings, method: str) -> List[tuple]:
    """The settings ``(lr, backbone_lr_mult)`` ``method`` is tried at on
    the selection split: each lr of the grid with each multiplier if it
    trains backbone parameters (:func:`backbone_trainable`), else with
    None (the config's ``paramwise_cfg`` as it is)."""
    mults = settings.backbone_lr_mults if backbone_trainable(
        settings.config(method)) else [None]
    return [(lr, mult) for lr in settings.lr_grid for mult in mults]


def next_lr(tried: Sequence[float], edge: str) -> float:
    """The lr beyond the ``edge`` (``'top'`` or ``'bottom'``) of the
    ``tried`` lrs, continuing their spacing: the ratio of the two lrs
    before the edge's neighbour (for a grid alternating x3, x3.3 it is the
    next of the same pattern), of the two for two lrs; rounded to two
    significant digits.

    Example:
        >>> next_lr([3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1], 'top')
        0.3
        >>> next_lr([3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1], 'bottom')
        0.0001
        >>> next_lr([1e-3, 1e-2], 'top')
        0.1
    """
    lrs = sorted(tried)
    if edge == 'bottom':
        lrs = [1 / lr for lr in reversed(lrs)]
    ratio = lrs[-2] / lrs[-3] if len(lrs) > 2 else lrs[-1] / lrs[-2]
    lr = lrs[-1] * ratio
    return float(f'{lr if edge == "top" else 1 / lr:.2g}')


def selects(settings: TransferSettings, grid: Sequence[tuple]) -> bool:
    """Whether a method tried at ``grid`` (:func:`settings_grid`) has
    selection runs: a grid of more than one setting, or ``select_only``."""
    return len(grid) > 1 or settings.select_only


def planned_runs(settings: TransferSettings,
                 grids: Dict[str, List[tuple]]) -> int:
    """How many runs :func:`run_all` makes: per split size and method, one
    per setting of its grid (``grids``: :func:`settings_grid` per method;
    none for a grid of one setting unless ``select_only``) and one per
    seed (none with ``select_only``); more where a choice on an edge of
    the grid widens it."""
    per_split = sum(
        (len(grid) if selects(settings, grid) else 0) +
        (0 if settings.select_only else settings.seeds)
        for grid in grids.values())
    return len(settings.train_sizes) * per_split


def run_all(settings: TransferSettings,
            source: dict,
            data: Dict[str, dict],
            on_run: Callable[[List[dict], int], None],
            on_start: Optional[Callable[[str, int], None]] = None
            ) -> List[dict]:
    """Per split size and method: the selection runs (seed
    :data:`~.run.SELECT_SEED`, each setting of :func:`settings_grid`,
    evaluated on the selection split), the choice
    (:func:`~.stats.choose_setting`; the only setting of a grid of one),
    and while it is the largest or smallest lr tried and scores above
    every other setting (and at most :data:`MAX_WIDENING` times each way)
    selection runs at the next lr beyond it (:func:`next_lr`), one per
    backbone lr multiplier of the grid; then the test runs (each of
    :func:`~.run.test_seeds` at the chosen setting, evaluated on the test
    split; none with ``settings.select_only``). A run recorded under its
    :func:`~.run.run_key` in ``settings.records`` or ``settings.reuse_records``
    is taken from there; any other trains and is recorded in
    ``settings.records`` as soon as it finishes.

    Args:
        settings (TransferSettings): What to run.
        source (dict): The source checkpoint (:func:`~.source.pretrain`).
        data (dict[str, dict]): The target data's dataset settings
            (:func:`~.data.make_target_data`).
        on_run (callable): Called after each run (trained or taken from a
            record) with the runs so far and the number planned (e.g. to
            rewrite the report and print a line).
        on_start (callable, optional): Called before each run with its
            name (:func:`~.records.run_name`) and the number
            planned, e.g. to update a progress bar. Default: None.

    Returns:
        list[dict]: One dict per run: ``train_size``, ``method``,
        ``phase``, ``lr``, ``backbone_lr_mult``, ``seed``,
        ``train_images`` (the hash of its training images' indices),
        ``config`` (relative to the checkout of ``settings.config_dir``),
        :func:`~.run.run_once`'s, ``record`` (its file name), ``reused``
        (taken from a record), ``machine`` (where it was measured) and
        ``code`` (:func:`~mmprotune.analysis.machine.code_version`, of the
        run; None for records without it).
    """
    spec = TASKS[settings.task]
    metric = spec['metric']
    grids = {
        method: settings_grid(settings, method)
        for method in settings.methods
    }
    planned = planned_runs(settings, grids)
    folders = [settings.records, *settings.reuse_records]
    # the checkout of ``configs/transfer``, which a run's config is named in
    checkout = osp.dirname(osp.dirname(osp.abspath(settings.config_dir)))
    here, code = machine(), code_version()
    real = is_real(settings.task)
    runs: List[dict] = []

    def one(size: int, method: str, phase: str, seed: int, lr: float,
            mult: Optional[float]) -> dict:
        key = run_key(settings, method, size, seed, phase, lr,
                      backbone_lr_mult=mult)
        name = run_name(key)
        if on_start:
            on_start(name, planned)
        record = find_record(folders, key)
        if record:
            run = record['run']
        else:
            config = settings.config(method)
            images = train_indices(settings, size, seed)
            cfg = run_config(
                config, data, source['checkpoint'], lr, images,
                select_indices(settings) if phase == 'select' else None,
                seed, settings.iters[size],
                osp.join(settings.out_dir, 'runs', name), mult)
            # real data: the first test seed's predictions of a few test
            # images, beside the records
            pictures = osp.join(
                settings.records, PREDICTIONS_FOLDER,
                osp.splitext(record_name(key))[0]) if real and \
                seed == test_seeds(settings)[0] else None
            run = dict(train_size=size, method=method, phase=phase, lr=lr,
                       backbone_lr_mult=mult, seed=seed,
                       train_images=key['train_images'],
                       config=osp.relpath(config, checkout),
                       **run_once(cfg, settings.task, pictures))
            write_record(settings.records, key, run, machine=here,
                         code=code, source_summary=source['summary'])
        runs.append(dict(run, record=record_name(key),
                         reused=record is not None,
                         machine=record['machine'] if record else here,
                         code=record.get('code') if record else code))
        on_run(runs, planned)
        return run

    for size in settings.train_sizes:
        for method in settings.methods:
            grid = grids[method]
            scores = {
                setting: one(size, method, 'select', SELECT_SEED,
                             *setting)[metric]
                for setting in grid
            } if selects(settings, grid) else {}
            for _ in range(2 * MAX_WIDENING if len(grid) > 1 else 0):
                lr, mult = choose_setting(scores)
                tried = sorted({lr for lr, _ in scores})
                edge = lr_at_edge(lr, tried)
                # a tie (e.g. runs too short to learn) points nowhere
                if list(scores.values()).count(scores[lr, mult]) > 1:
                    break
                beyond = [t for t in tried if (t > max(settings.lr_grid)
                                               if edge == 'top' else
                                               t < min(settings.lr_grid))]
                if edge is None or len(beyond) >= MAX_WIDENING:
                    break
                # at every multiplier: a chosen x1 may be the edge only
                # because x1 is too fast for the backbone's parameters there
                widened = next_lr(tried, edge)
                for grid_mult in dict.fromkeys(m for _, m in grid):
                    planned += 1
                    scores[widened, grid_mult] = one(
                        size, method, 'select', SELECT_SEED, widened,
                        grid_mult)[metric]
            if settings.select_only:
                continue
            lr, mult = choose_setting(scores) if scores else grid[0]
            for seed in test_seeds(settings):
                one(size, method, 'test', seed, lr, mult)
    return runs
