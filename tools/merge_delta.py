"""Merge a delta checkpoint with its frozen base into an ordinary checkpoint.

::

    python tools/merge_delta.py CONFIG DELTA OUT [--cfg-options KEY=VALUE ...]

The model is built from ``CONFIG`` (the config the delta was trained with,
e.g. its copy in the work directory), its weights are initialised, which loads
the frozen backbone's base from the backbone's ``init_cfg`` (or mmseg's
``model.pretrained``), the base's SHA-256 must equal the one the delta
records, and the delta is loaded on top. ``OUT`` is then written as an
ordinary mmdet / mmseg / mmpretrain checkpoint, ``{'meta': ...,
'state_dict': ...}`` with every tensor of the model, which ``tools/test.py``,
``init_detector`` / ``init_model`` (mmdet, mmseg, mmpretrain) and mmengine's
``load_checkpoint`` load without any delta logic and without the base
checkpoint. ``meta`` is the delta's, with
``mmprotune_delta`` replaced by ``mmprotune_merged`` (the delta's path, base
checkpoint and hash, and the mmprotune version). Optimizer and scheduler
states are not copied: the result is for testing and deployment. The work is
done by :func:`mmprotune.engine.delta.merge_delta`.

The prompt blocks stay separate modules, so loading the merged checkpoint
still needs ``custom_imports=dict(imports=['mmprotune'])`` for the
``ProTune*`` types. They cannot be folded into the frozen weights: a block
adds ``up(GELU(dw(down(x))))`` to a stage's output, and the GELU between the
projections makes that a non-linear function of ``x``, which no change of the
linear convolution weights before it can express.
"""
import argparse
import os

from mmengine.config import Config, DictAction
from mmengine.logging import MMLogger, print_log

from mmprotune.engine.delta import MERGED_META_KEY, merge_delta


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


def main() -> None:
    args = parse_args()
    # mmengine's init_weights dumps one record per initialised parameter to
    # the logger's file if it has one, else to the console: keep it quiet
    MMLogger.get_instance('merge_delta', log_file=os.devnull)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    merged = merge_delta(cfg, args.delta, args.out)
    info = merged['meta'][MERGED_META_KEY]
    print_log(
        f'Merged {args.delta} with its base {info["base_checkpoint"]} '
        f'(sha256 {info["base_sha256"]}, verified) into {args.out}: '
        f'{len(merged["state_dict"])} tensors',
        logger='current')


if __name__ == '__main__':
    main()
