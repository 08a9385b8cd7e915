"""``PerClassIoUMetric``: mmseg's IoUMetric with each class's IoU in its
results."""
import math

import pytest
import torch
from mmengine.registry import DefaultScope
from mmseg.registry import METRICS

import mmprotune  # noqa: F401  (registers the metric)
from mmprotune.evaluation import PerClassIoUMetric

CLASSES = ('sky', 'road', 'car')


def _sample(pred, label):
    return dict(pred_sem_seg=dict(data=torch.tensor([pred])),
                gt_sem_seg=dict(data=torch.tensor([label])))


def test_class_iou_in_results():
    # in mmseg's scope whatever an earlier test left current
    with DefaultScope.overwrite_default_scope('mmseg'):
        metric = METRICS.build(dict(type='PerClassIoUMetric'))
    assert isinstance(metric, PerClassIoUMetric)
    metric.dataset_meta = dict(classes=CLASSES)
    # label 255 is ignored; 'car' is in neither labels nor predictions
    label = [[0, 0, 1, 1], [0, 1, 1, 255]]
    pred = [[0, 1, 1, 1], [0, 1, 0, 2]]
    metric.process([], [_sample(pred, label)])
    results = metric.evaluate(1)
    # sky: 2 right of 3 labelled + 1 predicted on road -> 2 / 4
    # road: 3 right of 4 labelled, 1 more predicted on sky -> 3 / 5
    assert results['IoU.sky'] == pytest.approx(50.0)
    assert results['IoU.road'] == pytest.approx(60.0)
    # the 255 pixel predicted as car counts nowhere
    assert math.isnan(results['IoU.car'])
    assert results['mIoU'] == pytest.approx(55.0)
