# Full fine-tuning reference: mmdet's own Mask R-CNN R50-FPN 1x recipe
# unchanged (SGD lr 0.02 for 16 images per batch, frozen_stages=1, BN in eval
# mode), i.e. the tuned baseline of the mmdet model zoo (38.2 box AP).
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
