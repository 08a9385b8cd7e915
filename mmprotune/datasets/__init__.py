"""Datasets of mmprotune: the deterministic synthetic "shapes" data in the
COCO / ADE20K / ImageNet / CIFAR-100 layouts (:mod:`.synthetic_shapes`),
the ``CamVidDataset`` registered in mmseg's ``DATASETS`` (:mod:`.camvid`)
and the raccoon detection set's Pascal VOC to COCO JSON converter
(:mod:`.raccoon`)."""
from .camvid import CamVidDataset
from .raccoon import (RACCOON_CLASSES, convert_raccoon, read_split_csv,
                      voc_to_coco)
from .synthetic_shapes import (SEG_CLASSES, SHAPE_CLASSES, encode_rle,
                               make_ade20k_shapes, make_cifar_shapes,
                               make_coco_shapes, make_imagenet_shapes)

__all__ = [
    'CamVidDataset', 'SHAPE_CLASSES', 'SEG_CLASSES', 'make_coco_shapes',
    'make_ade20k_shapes', 'make_imagenet_shapes', 'make_cifar_shapes',
    'encode_rle', 'RACCOON_CLASSES', 'voc_to_coco', 'convert_raccoon',
    'read_split_csv'
]
