"""Mona: its arguments, and Swin blocks with ``with_cp`` refused."""
import pytest

from mmprotune.models import ProTuneSwinTransformer
from mmprotune.testing.peft_cases import SWIN, assert_refused


@pytest.mark.parametrize('family, prompt_cfg, pattern', [
    ('swin', dict(type='Mona', hidden_ratio=-1.0),
     r'prompt_cfg.hidden_ratio must be a number > 0'),
    ('resnet', dict(type='Mona', kernel_size=(3, 4)),
     r'prompt_cfg.kernel_size must be an odd int'),
    ('swin', dict(type='Mona', kernel_size=()),
     r'prompt_cfg.kernel_size must be an odd int > 0 or a non-empty list'),
    ('swin', dict(type='Mona', kernel_size=(3, 3)),
     r'prompt_cfg.kernel_size=\[3, 3\] repeats a size'),
])
def test_bad_prompt_cfg(family, prompt_cfg, pattern):
    assert_refused(family, prompt_cfg, pattern)


def test_mona_rejects_swin_with_cp():
    with pytest.raises(ValueError, match='Mona does not support with_cp'):
        ProTuneSwinTransformer(**SWIN, with_cp=True,
                               prompt_cfg=dict(type='Mona'))
