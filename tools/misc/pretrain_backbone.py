"""Pretrain a backbone on a synthetic source task (no model hub) and save its
weights for ``init_cfg=dict(type='Pretrained', checkpoint=...)``; see
:mod:`mmprotune.analysis.transfer.pretrain` for the tasks and the backbones.

Example::

    python tools/misc/pretrain_backbone.py \
        --out work_dirs/demo/resnet18_shapes-pretrain.pth
    python tools/misc/pretrain_backbone.py --arch swin --task count \
        --lr 5e-4 --out work_dirs/transfer-swin/swin-e32_count.pth
"""
import argparse

from mmprotune.analysis.transfer.pretrain import (DENSE_STAGES,
                                                  PretrainSettings,
                                                  pretrain_backbone)


def parse_args() -> argparse.Namespace:
    defaults = PretrainSettings()
    parser = argparse.ArgumentParser(
        description='Pretrain a ResNet or Swin backbone on a synthetic '
        'source task and save its weights for init_cfg=Pretrained.')
    parser.add_argument(
        '--out', default=defaults.out, help='checkpoint to write')
    parser.add_argument(
        '--task',
        choices=['shapes', 'count'],
        default=defaults.task,
        help='source task (see mmprotune.analysis.transfer.pretrain)')
    parser.add_argument(
        '--arch',
        choices=list(DENSE_STAGES),
        default=defaults.arch,
        help='backbone: mmdet ResNet, or the small mmseg SwinTransformer of '
        'SWIN_ARCH')
    parser.add_argument(
        '--depth', type=int, default=defaults.depth, help='ResNet depth')
    parser.add_argument(
        '--base-channels',
        type=int,
        default=defaults.base_channels,
        help='ResNet width (channels of the stem and the first stage)')
    parser.add_argument(
        '--embed-dims',
        type=int,
        default=defaults.embed_dims,
        help='Swin width (channels of the first stage)')
    parser.add_argument(
        '--iters',
        type=int,
        default=defaults.iters,
        help='training iterations')
    parser.add_argument(
        '--img-size',
        type=int,
        default=defaults.img_size,
        help='square image side')
    parser.add_argument(
        '--batch-size', type=int, default=defaults.batch_size)
    parser.add_argument(
        '--num-images',
        type=int,
        default=defaults.num_images,
        help='source training images (plus a tenth as many for val)')
    parser.add_argument('--lr', type=float, default=defaults.lr)
    parser.add_argument(
        '--seed',
        type=int,
        default=defaults.seed,
        help='seed of the source images and of training (the demo draws its '
        'detection data with seed 0)')
    return parser.parse_args()


def main() -> None:
    pretrain_backbone(PretrainSettings(**vars(parse_args())))


if __name__ == '__main__':
    main()
