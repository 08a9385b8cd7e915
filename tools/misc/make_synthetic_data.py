"""Write a tiny synthetic shapes dataset in COCO or ADE20K layout.

Example::

    python tools/misc/make_synthetic_data.py coco data/coco_shapes
    python tools/misc/make_synthetic_data.py ade20k data/ade_shapes --size 96

Point ``data_root`` of an upstream mmdet / mmseg config at ``OUT_DIR``.
"""
import argparse

from mmprotune.datasets import make_ade20k_shapes, make_coco_shapes


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Generate a deterministic synthetic shapes dataset.')
    parser.add_argument('format', choices=['coco', 'ade20k'])
    parser.add_argument('out_dir', help='dataset root to write')
    parser.add_argument('--num-train', type=int, default=32)
    parser.add_argument('--num-val', type=int, default=16)
    parser.add_argument(
        '--size',
        type=int,
        nargs='+',
        default=[128],
        metavar='S',
        help='image side, or H W')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    if len(args.size) > 2:
        parser.error('--size takes one (side) or two (H W) values')
    return args


def main() -> None:
    args = parse_args()
    size = args.size[0] if len(args.size) == 1 else tuple(args.size)
    make = make_coco_shapes if args.format == 'coco' else make_ade20k_shapes
    info = make(
        args.out_dir,
        num_train=args.num_train,
        num_val=args.num_val,
        img_size=size,
        seed=args.seed)
    print(f'Wrote {args.format} shapes dataset to {info["data_root"]}')
    for key, value in info.items():
        if key != 'data_root':
            print(f'  {key}: {value}')


if __name__ == '__main__':
    main()
