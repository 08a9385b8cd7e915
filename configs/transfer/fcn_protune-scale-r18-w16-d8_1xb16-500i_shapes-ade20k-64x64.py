# Design study of the Pro-tuning block (selection split only): the default
# block with a learnt per-channel scale on its prompt (starting at 1).
_base_ = './fcn_protune-r18-w16-d8_1xb16-500i_shapes-ade20k-64x64.py'

model = dict(backbone=dict(prompt_cfg=dict(layer_scale=True)))
