"""Mona: its arguments, and Swin blocks with ``with_cp`` refused."""
import pytest
from peft_cases import SWIN, assert_refused

from mmprotune.models import ProTuneSwinTransformer


@pytest.mark.parametrize('family, prompt_cfg, pattern', [
    ('swin', dict(type='Mona', hidden_ratio=-1.0),
     r'prompt_cfg.hidden_ratio must be a number > 0'),
    ('resnet', dict(type='Mona', kernel_sizes=(3, 4)),
     r'prompt_cfg.kernel_sizes must be an odd int'),
    ('swin', dict(type='Mona', kernel_sizes=()), r'prompt_cfg.kernel_sizes'),
])
def test_bad_prompt_cfg(family, prompt_cfg, pattern):
    assert_refused(family, prompt_cfg, pattern)


def test_mona_rejects_swin_with_cp():
    with pytest.raises(ValueError, match='Mona does not support with_cp'):
        ProTuneSwinTransformer(**SWIN, with_cp=True,
                               prompt_cfg=dict(type='Mona'))
