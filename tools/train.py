"""Train a detector (mmdet), a segmentor (mmseg) or a classifier (mmpretrain)
with one entry point.

The package is picked from the config's ``default_scope`` and the script then
behaves like that package's own ``tools/train.py``::

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--auto-scale-lr] [--cfg-options KEY=VALUE ...] [--launcher {pytorch,slurm}]
"""
import argparse
from typing import Optional, Sequence

from mmprotune.utils.launch import (add_common_arguments, build_runner,
                                    close_distributed, enable_amp,
                                    enable_auto_scale_lr, load_config,
                                    parse_tool_args, set_resume)


def parse_args(argv: Optional[Sequence[str]] = None):
    parser = argparse.ArgumentParser(
        description='Train a detector, a segmentor or a classifier')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training: fp16 with dynamic '
        'loss scaling on a GPU (AmpOptimWrapper), bf16 autocast without one '
        '(BF16AutocastOptimWrapper)')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='enable automatically scaling LR')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or, without a path, from the '
        'latest checkpoint in the work directory')
    add_common_arguments(parser)
    return parse_tool_args(parser, argv)


def main(argv: Optional[Sequence[str]] = None):
    args = parse_args(argv)
    cfg, scope = load_config(args.config, args.launcher, args.cfg_options,
                             args.work_dir)
    if args.amp:
        enable_amp(cfg)
    if args.auto_scale_lr:
        enable_auto_scale_lr(cfg)
    if args.resume is not None:
        set_resume(cfg, args.resume)
    build_runner(cfg, scope).train()
    close_distributed()


if __name__ == '__main__':
    main()
