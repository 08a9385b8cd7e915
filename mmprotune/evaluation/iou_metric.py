"""mmseg's ``IoUMetric`` with each class's IoU among its results."""
from typing import Dict, List

import numpy as np
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS


@METRICS.register_module()
class PerClassIoUMetric(IoUMetric):
    """mmseg's ``IoUMetric`` whose results also hold the IoU of each class
    as ``IoU.<class name>`` (in %, rounded as mIoU; NaN for a class that
    neither the labels nor the predictions have), so that a Runner's
    ``test()`` returns them, not only its log's table.

    Args:
        **kwargs: Every argument of ``mmseg.evaluation.IoUMetric``.
    """

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        """``results``: one ``(intersection, union, predicted, label)``
        tuple of per-class areas, each (num_classes, ), per image."""
        metrics = super().compute_metrics(results)
        if self.format_only:
            return metrics
        intersection = sum(result[0] for result in results).numpy()
        union = sum(result[1] for result in results).numpy()
        with np.errstate(invalid='ignore', divide='ignore'):
            iou = intersection / union
        metrics.update({
            f'IoU.{name}': float(np.round(value * 100, 2))
            for name, value in zip(self.dataset_meta['classes'], iou)
        })
        return metrics
