"""Evaluation metrics of mmprotune, registered in the upstream packages'
``METRICS``."""
from .coco_metric import EmptyAwareCocoMetric
from .iou_metric import PerClassIoUMetric

__all__ = ['EmptyAwareCocoMetric', 'PerClassIoUMetric']
