# Full fine-tuning reference: mmdet's own Swin-T Mask R-CNN 1x recipe unchanged
# (AdamW lr 1e-4, weight decay 0.05, no decay on norms and position tables;
# 42.7 box AP in the mmdet model zoo).
_base_ = 'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py'
