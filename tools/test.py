"""Test (and evaluate) a detector (mmdet), a segmentor (mmseg) or a
classifier (mmpretrain).

The package is picked from the config's ``default_scope`` and the script then
behaves like that package's own ``tools/test.py``::

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out OUT]
        [--show] [--show-dir DIR] [--wait-time S] [--tta]
        [--cfg-options KEY=VALUE ...] [--launcher {pytorch,slurm}]

``--out`` is a ``.pkl``/``.pickle`` file of dumped predictions for mmdet and
mmpretrain and a directory of predicted segmentation maps for mmseg.
"""
import argparse
from typing import Optional, Sequence

from mmprotune.utils.launch import (add_common_arguments, build_runner,
                                    check_test_out, close_distributed,
                                    dump_results, enable_tta,
                                    enable_visualization, load_config,
                                    parse_tool_args, set_test_out)


def parse_args(argv: Optional[Sequence[str]] = None):
    parser = argparse.ArgumentParser(
        description='Test (and eval) a detector, a segmentor or a '
        'classifier')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out',
        type=str,
        help='mmdet, mmpretrain: pickle file to dump predictions to; mmseg: '
        'directory to save predicted segmentation maps to (for offline '
        'evaluation)')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='directory where painted images will be saved. '
        'If specified, it will be automatically saved '
        'to the work_dir/timestamp/show_dir')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--tta', action='store_true', help='test time augmentation')
    add_common_arguments(parser)
    return parse_tool_args(parser, argv)


def main(argv: Optional[Sequence[str]] = None):
    args = parse_args(argv)
    cfg, scope = load_config(args.config, args.launcher, args.cfg_options,
                             args.work_dir)
    check_test_out(scope, args.out)
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        enable_visualization(cfg, scope, args.show, args.wait_time,
                             args.show_dir)
    if args.tta:
        enable_tta(cfg, scope)
    if args.out is not None and scope == 'mmseg':
        set_test_out(cfg, args.out)
    runner = build_runner(cfg, scope)
    if args.out is not None and scope != 'mmseg':
        dump_results(runner, scope, args.out)
    runner.test()
    close_distributed()


if __name__ == '__main__':
    main()
