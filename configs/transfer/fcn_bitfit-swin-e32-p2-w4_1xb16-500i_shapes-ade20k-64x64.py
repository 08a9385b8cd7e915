# Swin track, BitFit: the frozen small Swin's linear and LayerNorm biases get
# trainable offsets; they and the FCN head train.
_base_ = './fcn_protune-swin-e32-p2-w4_1xb16-500i_shapes-ade20k-64x64.py'

model = dict(backbone=dict(prompt_cfg=dict(_delete_=True, type='BitFit')))
