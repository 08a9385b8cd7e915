"""Convert the raccoon detection set (Pascal VOC XML) into COCO JSON for
mmdet's ``CocoDataset``: ``OUT_DIR/train.json`` and ``OUT_DIR/test.json``,
the split of ``DATA_ROOT/data/{train,test}_labels.csv``, the boxes of
``DATA_ROOT/annotations/*.xml`` (conventions and checks:
:mod:`mmprotune.datasets.raccoon`).

Example::

    python tools/dataset_converters/raccoon.py ../shared/data/raccoon \
        data/raccoon
"""
import argparse
from typing import List, Optional

import mmengine

from mmprotune.datasets import convert_raccoon


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description='Convert the raccoon set (Pascal VOC XML) into COCO '
        'JSON, one file per split.')
    parser.add_argument(
        'data_root', help='the set: images/, annotations/, data/*.csv')
    parser.add_argument('out_dir', help='folder for train.json and test.json')
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        paths = convert_raccoon(args.data_root, args.out_dir)
    except ValueError as error:
        parser.error(str(error))
    for split, path in paths.items():
        coco = mmengine.load(path)
        print(f'{split}: {len(coco["images"])} images, '
              f'{len(coco["annotations"])} boxes -> {path}')


if __name__ == '__main__':
    main()
