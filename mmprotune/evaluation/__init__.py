"""Evaluation metrics of mmprotune, registered in the upstream packages'
``METRICS``."""
from .iou_metric import PerClassIoUMetric

__all__ = ['PerClassIoUMetric']
