"""LoRA: its arguments and its targets per family."""
import pytest

from mmprotune.testing.peft_cases import assert_refused


@pytest.mark.parametrize('family, prompt_cfg, pattern', [
    ('resnet', dict(type='LoRA', hidden_channels=4),
     r"unknown prompt_cfg field\(s\) \['hidden_channels'\]; allowed: "
     r"\['alpha', 'rank', 'stages', 'targets', 'type'\]"),
    ('swin', dict(type='LoRA', rank=0), r'prompt_cfg.rank must be an int'),
    ('resnet', dict(type='LoRA', rank=1.5),
     r'prompt_cfg.rank must be an int'),
    ('swin', dict(type='LoRA', alpha=-1), r'prompt_cfg.alpha must be'),
    ('swin', dict(type='LoRA', targets=['conv1x1']),
     r"prompt_cfg.targets must be a non-empty list of \['ffn', 'proj', "
     r"'qkv'\] for a swin backbone"),
    ('resnet', dict(type='LoRA', targets='conv1x1'), r'prompt_cfg.targets'),
])
def test_bad_prompt_cfg(family, prompt_cfg, pattern):
    assert_refused(family, prompt_cfg, pattern)
