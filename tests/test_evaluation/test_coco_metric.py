"""``EmptyAwareCocoMetric``: mmdet's CocoMetric with box AP 0 where nothing
is detected, mmdet's results everywhere else."""
import pytest
import torch
from mmdet.registry import METRICS
from mmengine.registry import DefaultScope

import mmprotune  # noqa: F401  (registers the metric)
from mmprotune.evaluation import EmptyAwareCocoMetric

#: Two images of 100 x 80, one box each (x1, y1, x2, y2).
BOXES = {1: [10., 10., 50., 60.], 2: [40., 20., 90., 70.]}


def _sample(img_id, boxes, scores):
    """What ``CocoMetric.process`` reads of a test data sample: the
    prediction and the ground truth the test pipeline carries."""
    return dict(
        img_id=img_id,
        ori_shape=(80, 100),
        pred_instances=dict(
            bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
            scores=torch.tensor(scores),
            labels=torch.zeros(len(scores), dtype=torch.long)),
        instances=[dict(bbox=BOXES[img_id], bbox_label=0, ignore_flag=0)])


def _evaluate(predictions):
    # in mmdet's scope whatever an earlier test left current
    with DefaultScope.overwrite_default_scope('mmdet'):
        metric = METRICS.build(
            dict(type='EmptyAwareCocoMetric', metric='bbox'))
    assert isinstance(metric, EmptyAwareCocoMetric)
    metric.dataset_meta = dict(classes=('raccoon', ))
    metric.process({}, [
        _sample(img_id, boxes, scores)
        for img_id, (boxes, scores) in predictions.items()
    ])
    return metric.evaluate(len(predictions))


def test_no_detections_score_zero():
    results = _evaluate({1: ([], []), 2: ([], [])})
    assert results == {
        'coco/bbox_mAP': 0.,
        'coco/bbox_mAP_50': 0.,
        'coco/bbox_mAP_75': 0.
    }


def test_detections_are_scored_by_mmdet():
    # a perfect box on image 1, none on image 2: recall 1/2 at every IoU
    results = _evaluate({1: ([BOXES[1]], [0.9]), 2: ([], [])})
    assert results['coco/bbox_mAP'] == pytest.approx(0.5, abs=0.01)
    assert results['coco/bbox_mAP_50'] == pytest.approx(0.5, abs=0.01)
    # both perfect
    results = _evaluate({i: ([BOXES[i]], [0.9]) for i in BOXES})
    assert results['coco/bbox_mAP'] == pytest.approx(1.)


def test_other_metrics_are_refused():
    with pytest.raises(ValueError, match="metric must be 'bbox'"), \
            DefaultScope.overwrite_default_scope('mmdet'):
        METRICS.build(dict(type='EmptyAwareCocoMetric', metric='segm'))
