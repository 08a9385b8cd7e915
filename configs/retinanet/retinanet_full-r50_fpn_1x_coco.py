# Full fine-tuning reference: mmdet's own RetinaNet R50-FPN 1x recipe unchanged
# (SGD lr 0.01 for 16 images per batch, frozen_stages=1; 36.5 box AP in the
# mmdet model zoo).
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
