"""Datasets of mmprotune: the deterministic synthetic "shapes" data in the
COCO / ADE20K / ImageNet / CIFAR-100 layouts (:mod:`.synthetic_shapes`) and
the ``CamVidDataset`` registered in mmseg's ``DATASETS`` (:mod:`.camvid`)."""
from .camvid import CamVidDataset
from .synthetic_shapes import (SEG_CLASSES, SHAPE_CLASSES, encode_rle,
                               make_ade20k_shapes, make_cifar_shapes,
                               make_coco_shapes, make_imagenet_shapes)

__all__ = [
    'CamVidDataset', 'SHAPE_CLASSES', 'SEG_CLASSES', 'make_coco_shapes',
    'make_ade20k_shapes', 'make_imagenet_shapes', 'make_cifar_shapes',
    'encode_rle'
]
