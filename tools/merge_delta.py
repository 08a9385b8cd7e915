"""Merge a delta checkpoint with its frozen base into an ordinary checkpoint.

::

    python tools/merge_delta.py CONFIG DELTA OUT [--cfg-options KEY=VALUE ...]

The model is built from ``CONFIG`` (the config the delta was trained with,
e.g. its copy in the work directory), its weights are initialised, which loads
the frozen backbone's base from the backbone's ``init_cfg`` (or mmseg's
``model.pretrained``), the base's SHA-256 must equal the one the delta
records, and the delta is loaded on top. ``OUT`` is then written as an
ordinary mmdet / mmseg checkpoint, ``{'meta': ..., 'state_dict': ...}`` with
every tensor of the model, which ``tools/test.py``, ``init_detector`` /
``init_model`` and mmengine's ``load_checkpoint`` load without any delta
logic and without the base checkpoint. ``meta`` is the delta's, with
``mmprotune_delta`` replaced by ``mmprotune_merged`` (the delta's path, base
checkpoint and hash, and the mmprotune version). Optimizer and scheduler
states are not copied: the result is for testing and deployment.

The prompt blocks stay separate modules, so loading the merged checkpoint
still needs ``custom_imports=dict(imports=['mmprotune'])`` for the
``ProTune*`` types. They cannot be folded into the frozen weights: a block
adds ``up(GELU(dw(down(x))))`` to a stage's output, and the GELU between the
projections makes that a non-linear function of ``x``, which no change of the
linear convolution weights before it can express.
"""
import argparse
import os
import os.path as osp
from copy import deepcopy

from mmengine.config import Config, DictAction
from mmengine.logging import MMLogger, print_log
from mmengine.registry import MODELS, init_default_scope
from mmengine.runner.checkpoint import (_load_checkpoint, save_checkpoint,
                                        weights_to_cpu)

SUPPORTED_SCOPES = ('mmdet', 'mmseg')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Merge a Pro-tuning delta checkpoint with its frozen '
        'base backbone into an ordinary checkpoint')
    parser.add_argument('config', help='the config the delta was trained with')
    parser.add_argument('delta', help='delta checkpoint (DeltaCheckpointHook)')
    parser.add_argument('out', help='merged checkpoint to write')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file, e.g. '
        'model.backbone.init_cfg.checkpoint=/path/to/base.pth')
    return parser.parse_args()


def merge_delta(cfg: Config, delta: str, out: str) -> dict:
    """Build ``cfg.model``, load its base and the delta, save ``out``.

    Args:
        cfg (Config): A config whose ``default_scope`` is mmdet or mmseg
            (its ``custom_imports`` are imported by ``Config.fromfile``).
        delta (str): Path or URL of a delta checkpoint.
        out (str): Where to write the merged checkpoint.

    Returns:
        dict: The saved checkpoint, ``{'meta': ..., 'state_dict': ...}``.

    Raises:
        ValueError: ``delta`` is not a delta checkpoint, or the config's
            scope is not supported.
        mmprotune.engine.delta.DeltaBaseMismatchError: The config's base
            backbone is not the delta's.
    """
    # after custom_imports, so that mmprotune is importable from the config
    from mmprotune.engine.delta import (DELTA_META_KEY, complete_delta,
                                        is_delta)
    from mmprotune.version import __version__

    scope = cfg.get('default_scope')
    if scope not in SUPPORTED_SCOPES:
        raise ValueError(f'Unsupported default_scope {scope!r}; expected one '
                         f'of {SUPPORTED_SCOPES}.')
    checkpoint = _load_checkpoint(delta, map_location='cpu')
    if not is_delta(checkpoint):
        raise ValueError(
            f'{delta} is not a delta checkpoint (its meta has no '
            f'{DELTA_META_KEY!r}); it can be used as it is.')
    info = checkpoint['meta'][DELTA_META_KEY]

    init_default_scope(scope)
    model = MODELS.build(cfg.model)
    # loads the frozen backbone's base (backbone.init_weights()), checks its
    # hash and adds it to the delta's state dict
    sha256 = complete_delta(model, checkpoint)
    # strict: the delta plus the base must be exactly the model's tensors
    model.load_state_dict(checkpoint['state_dict'], strict=True)

    meta = deepcopy(checkpoint['meta'])
    meta.pop(DELTA_META_KEY)
    meta['mmprotune_merged'] = dict(
        delta=delta,
        base_checkpoint=info.get('base_checkpoint'),
        base_sha256=sha256,
        mmprotune_version=__version__)
    merged = dict(meta=meta, state_dict=weights_to_cpu(model.state_dict()))
    if osp.dirname(out):
        os.makedirs(osp.dirname(out), exist_ok=True)
    save_checkpoint(merged, out)
    print_log(
        f'Merged {delta} with its base {info.get("base_checkpoint")} '
        f'(sha256 {sha256}, verified) into {out}: '
        f'{len(merged["state_dict"])} tensors',
        logger='current')
    return merged


def main() -> None:
    args = parse_args()
    # mmengine's init_weights dumps one record per initialised parameter to
    # the logger's file if it has one, else to the console: keep it quiet
    MMLogger.get_instance('merge_delta', log_file=os.devnull)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    merge_delta(cfg, args.delta, args.out)


if __name__ == '__main__':
    main()
