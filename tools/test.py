"""Test (and evaluate) a detector (mmdet) or a segmentor (mmseg).

The package is picked from the config's ``default_scope`` and the script then
behaves like that package's own ``tools/test.py``::

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out OUT]
        [--show] [--show-dir DIR] [--wait-time S] [--tta]
        [--cfg-options KEY=VALUE ...] [--launcher pytorch]

``--out`` is a ``.pkl``/``.pickle`` file of dumped predictions for mmdet and
a directory of predicted segmentation maps for mmseg.
"""
import argparse
import warnings
from copy import deepcopy

from mmengine.config import ConfigDict

from mmprotune.utils.launch import (add_common_arguments, build_runner,
                                    close_distributed, load_config,
                                    parse_tool_args)


def parse_args():
    parser = argparse.ArgumentParser(
        description='Test (and eval) a detector or a segmentor')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out',
        type=str,
        help='mmdet: pickle file to dump predictions to; mmseg: directory to '
        'save predicted segmentation maps to (for offline evaluation)')
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
    return parse_tool_args(parser)


def trigger_visualization_hook(cfg, args, scope):
    """Turn on ``default_hooks.visualization`` (Det/SegVisualizationHook)."""
    hook = cfg.default_hooks.get('visualization')
    if hook is None:
        raise RuntimeError(
            'VisualizationHook must be included in default_hooks, e.g. '
            '"visualization=dict(type=\'DetVisualizationHook\')" (mmdet) or '
            '"visualization=dict(type=\'SegVisualizationHook\')" (mmseg).')
    hook['draw'] = True
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    if args.show_dir:
        # mmdet's hook takes the dir itself, mmseg's goes via the visualizer
        if scope == 'mmdet':
            hook['test_out_dir'] = args.show_dir
        else:
            cfg.visualizer['save_dir'] = args.show_dir


def default_det_tta(cfg):
    """Fill in mmdet's default flip TTA when the config defines none."""
    if 'tta_model' not in cfg:
        warnings.warn('Cannot find ``tta_model`` in config, '
                      'we will set it as default.')
        cfg.tta_model = dict(
            type='DetTTAModel',
            tta_cfg=dict(
                nms=dict(type='nms', iou_threshold=0.5), max_per_img=100))
    if 'tta_pipeline' not in cfg:
        warnings.warn('Cannot find ``tta_pipeline`` in config, '
                      'we will set it as default.')
        data_cfg = cfg.test_dataloader.dataset
        while 'dataset' in data_cfg:
            data_cfg = data_cfg['dataset']
        cfg.tta_pipeline = deepcopy(data_cfg.pipeline)
        flips = [
            dict(type='RandomFlip', prob=1.),
            dict(type='RandomFlip', prob=0.)
        ]
        pack = dict(
            type='PackDetInputs',
            meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                       'scale_factor', 'flip', 'flip_direction'))
        cfg.tta_pipeline[-1] = dict(
            type='TestTimeAug', transforms=[flips, [pack]])


def main():
    args = parse_args()

    cfg, scope = load_config(args.config, args.launcher, args.cfg_options,
                             args.work_dir)
    if scope == 'mmdet' and args.out is not None and \
            not args.out.endswith(('.pkl', '.pickle')):
        raise ValueError(
            f'--out must be a .pkl or .pickle file, got {args.out!r}.')

    cfg.load_from = args.checkpoint

    if args.show or args.show_dir:
        trigger_visualization_hook(cfg, args, scope)

    if args.tta:
        if scope == 'mmdet':
            default_det_tta(cfg)
        elif 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
            raise RuntimeError(
                '--tta needs `tta_model` and `tta_pipeline` in the config.')
        cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline

    if args.out is not None and scope == 'mmseg':
        # IoUMetric writes the predicted maps to `output_dir`
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True

    runner = build_runner(cfg, scope)

    if args.out is not None and scope == 'mmdet':
        # dummy metric that dumps the predictions to a pickle file
        from mmdet.evaluation import DumpDetResults
        runner.test_evaluator.metrics.append(
            DumpDetResults(out_file_path=args.out))

    runner.test()
    close_distributed()


if __name__ == '__main__':
    main()
