# Transfer benchmark, design study of Pro-tuning (docs/design.md, prompt_cfg):
# the Pro-tuning config with each stage's prompt computed from the stage's
# input instead of its output (prompt_input='input': y = f(x) + prompt(x),
# a learnt path parallel to the frozen stage).
_base_ = './fcn_protune-r18-w16-d8_1xb16-500i_shapes-ade20k-64x64.py'

model = dict(backbone=dict(prompt_cfg=dict(prompt_input='input')))
