# Swin track, design study of Pro-tuning (docs/design.md, prompt_cfg): the
# Pro-tuning config with each stage's prompt computed from the output tokens
# it is added to (prompt_input='output': y = f(x) + prompt(f(x)), the default
# until the design study) instead of the tokens entering the stage.
_base_ = './fcn_protune-swin-e32-p2-w4_1xb16-500i_shapes-ade20k-64x64.py'

model = dict(backbone=dict(prompt_cfg=dict(prompt_input='output')))
