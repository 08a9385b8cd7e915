# Transfer benchmark, design study of Pro-tuning (docs/design.md, prompt_cfg):
# the Pro-tuning config with each stage's prompt computed from the stage's
# output it is added to (prompt_input='output': y = f(x) + prompt(f(x)), the
# default until the design study) instead of its input.
_base_ = './fcn_protune-r18-w16-d8_1xb16-500i_shapes-ade20k-64x64.py'

model = dict(backbone=dict(prompt_cfg=dict(prompt_input='output')))
