# Swin track, design study of Pro-tuning (docs/design.md, prompt_cfg): the
# Pro-tuning config with a prompt after every Swin block of each stage
# (placement='block'; the last block's is the stage end's) instead of one at
# each stage end.
_base_ = './fcn_protune-swin-e32-p2-w4_1xb16-500i_shapes-ade20k-64x64.py'

model = dict(backbone=dict(prompt_cfg=dict(placement='block')))
