"""AdaptFormer: Swin only, and its arguments."""
import pytest

from mmprotune.testing.peft_cases import RESNET_ALLOWED, assert_refused


@pytest.mark.parametrize('family, prompt_cfg, pattern', [
    ('resnet', dict(type='AdaptFormer'),
     r"prompt_cfg.type='AdaptFormer' applies to \['swin'\] backbones, not to "
     r"'resnet'; allowed: " + RESNET_ALLOWED),
    ('swin', dict(type='AdaptFormer', hidden_channels=0),
     r'prompt_cfg.hidden_channels must be an int > 0'),
    ('swin', dict(type='AdaptFormer', scale=0), r'prompt_cfg.scale'),
])
def test_bad_prompt_cfg(family, prompt_cfg, pattern):
    assert_refused(family, prompt_cfg, pattern)
