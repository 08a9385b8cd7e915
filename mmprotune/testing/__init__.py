"""Helpers for tests and demos that need data or weights without any
download."""
from .checkpoints import write_pretrained_checkpoint
from .synthetic_data import (SEG_CLASSES, SHAPE_CLASSES, encode_rle,
                             make_ade20k_shapes, make_cifar_shapes,
                             make_coco_shapes, make_imagenet_shapes)
from .tiny_config import tiny_config
from .tools import REPO_ROOT, repo_env, run_tool, tool_command

__all__ = [
    'SHAPE_CLASSES', 'SEG_CLASSES', 'make_coco_shapes', 'make_ade20k_shapes',
    'make_imagenet_shapes', 'make_cifar_shapes',
    'encode_rle', 'write_pretrained_checkpoint', 'tiny_config', 'REPO_ROOT',
    'repo_env', 'run_tool', 'tool_command'
]
