# Full fine-tuning reference: mmseg's own UperNet R50 160k recipe unchanged
# (SGD lr 0.01, poly decay; 42.05 mIoU in the mmseg model zoo).
_base_ = 'mmseg::upernet/upernet_r50_4xb4-160k_ade20k-512x512.py'
