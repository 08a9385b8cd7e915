# Full fine-tuning reference: mmseg's own Swin-T UperNet 160k recipe unchanged
# (AdamW lr 6e-5, weight decay 0.01, no decay on norms and position tables;
# 44.41 mIoU in the mmseg model zoo).
_base_ = ('mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_'
          '8xb2-160k_ade20k-512x512.py')
