# Full fine-tuning reference: mmdet's own Swin-T RetinaNet 1x recipe unchanged
# (SGD lr 0.01 for 16 images per batch).
_base_ = 'mmdet::swin/retinanet_swin-t-p4-w7_fpn_1x_coco.py'
