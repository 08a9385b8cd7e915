"""mmdet's ``CocoMetric`` that scores a model detecting nothing."""
from typing import Dict, List

from mmdet.evaluation import CocoMetric
from mmdet.registry import METRICS


@METRICS.register_module()
class EmptyAwareCocoMetric(CocoMetric):
    """mmdet's ``CocoMetric`` whose box AP is 0 where the model detects
    nothing in any image: mmdet's then logs an error and returns no
    results, which an early validation of a short fine-tuning run (or one
    at a poor learning rate) meets. With ground truth and no detection the
    recall is 0 at every threshold, so ``bbox_mAP``, ``bbox_mAP_50`` and
    ``bbox_mAP_75`` are 0; the per-area APs, undefined where a range has no
    ground truth, are left out.

    Args:
        **kwargs: Every argument of ``mmdet.evaluation.CocoMetric``;
            ``metric`` must be ``'bbox'``.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if self.metrics != ['bbox']:
            raise ValueError(f'{type(self).__name__}: metric must be '
                             f"'bbox', got {self.metrics}")

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        """``results``: one ``(gt, pred)`` pair of dicts per image (see
        ``CocoMetric.process``)."""
        if self.format_only or any(len(pred['bboxes'])
                                   for _, pred in results):
            return super().compute_metrics(results)
        return {f'bbox_{item}': 0. for item in ('mAP', 'mAP_50', 'mAP_75')}
