"""Train a detector (mmdet) or a segmentor (mmseg) with one entry point.

The package is picked from the config's ``default_scope`` and the script then
behaves like that package's own ``tools/train.py``::

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--auto-scale-lr] [--cfg-options KEY=VALUE ...] [--launcher pytorch]
"""
import argparse

import torch
from mmengine.logging import print_log

from mmprotune.utils.launch import (add_common_arguments, build_runner,
                                    close_distributed, load_config,
                                    parse_tool_args)


def parse_args():
    parser = argparse.ArgumentParser(
        description='Train a detector or a segmentor')
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
    return parse_tool_args(parser)


def main():
    args = parse_args()

    cfg, scope = load_config(args.config, args.launcher, args.cfg_options,
                             args.work_dir)

    if args.amp:
        wrapper_type = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if wrapper_type != 'OptimWrapper':
            already = ' (AMP is already enabled in the config)' \
                if wrapper_type in ('AmpOptimWrapper',
                                    'BF16AutocastOptimWrapper') else ''
            raise ValueError(
                '`--amp` needs `optim_wrapper.type="OptimWrapper"`, but the '
                f'config has {wrapper_type!r}{already}.')
        if torch.cuda.is_available():
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
        else:
            # mmengine's AmpOptimWrapper cannot be built without a GPU
            cfg.optim_wrapper.type = 'BF16AutocastOptimWrapper'
            print_log('--amp without a GPU: bf16 autocast '
                      '(BF16AutocastOptimWrapper)', logger='current')

    if args.auto_scale_lr:
        auto_scale_lr = cfg.get('auto_scale_lr') or {}
        if 'enable' not in auto_scale_lr or \
                'base_batch_size' not in auto_scale_lr:
            raise RuntimeError('Can not find "auto_scale_lr" or '
                               '"auto_scale_lr.enable" or '
                               '"auto_scale_lr.base_batch_size" in your '
                               'configuration file.')
        cfg.auto_scale_lr.enable = True

    # an explicit checkpoint takes priority over auto-resuming from work_dir
    if args.resume is not None:
        cfg.resume = True
        cfg.load_from = None if args.resume == 'auto' else args.resume

    build_runner(cfg, scope).train()
    close_distributed()


if __name__ == '__main__':
    main()
