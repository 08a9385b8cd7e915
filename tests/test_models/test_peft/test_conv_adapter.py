"""Conv-Adapter: ResNet and MobileNetV2 only, and its arguments."""
import pytest

from mmprotune.testing.peft_cases import SWIN_ALLOWED, assert_refused


@pytest.mark.parametrize('family, prompt_cfg, pattern', [
    ('swin', dict(type='ConvAdapter'),
     r"prompt_cfg.type='ConvAdapter' applies to \['resnet', "
     r"'mobilenetv2'\] backbones, not "
     r"to 'swin'; allowed: " + SWIN_ALLOWED),
    ('resnet', dict(type='ConvAdapter', reduction=3),
     r"prompt_cfg.reduction must be an int > 0 that divides the blocks' "
     r'input channels \[8\]'),
    ('resnet', dict(type='ConvAdapter', kernel_size=2),
     r'prompt_cfg.kernel_size must be an odd int'),
])
def test_bad_prompt_cfg(family, prompt_cfg, pattern):
    assert_refused(family, prompt_cfg, pattern)
