"""BitFit: the offset of a layer's bias equals training that bias; the
wrapper supplies ``stage`` and ``family``, which are no ``prompt_cfg``
fields."""
import pytest
import torch
import torch.nn.functional as F

from mmprotune.testing.peft_cases import WRAPPERS, assert_refused, perturb


@pytest.mark.parametrize('family, prompt_cfg, pattern', [
    ('swin', dict(type='BitFit', family='resnet'),
     r"unknown prompt_cfg field\(s\) \['family'\]; allowed: "
     r"\['stages', 'type'\]"),
])
def test_bad_prompt_cfg(family, prompt_cfg, pattern):
    assert_refused(family, prompt_cfg, pattern)


def test_offset_is_a_trained_bias():
    """A hooked ``nn.Linear`` computes ``W x + (b + delta)`` (float64) and
    its own bias stays as it was."""
    wrapper_cls, _, kwargs, _ = WRAPPERS['mmdet-Swin']
    wrapped = wrapper_cls(**kwargs, prompt_cfg=dict(type='BitFit',
                                                    stages=[0]))
    wrapped.init_weights()
    wrapped.double()
    perturb(wrapped)
    linear = wrapped.stages[0].blocks[0].attn.w_msa.proj
    bias = linear.bias.clone()
    delta = wrapped.prompts['0'].layers['blocks_0_attn_w_msa_proj'].delta
    assert delta.abs().min() > 0
    x = torch.randn(3, 5, linear.in_features, dtype=torch.float64)
    with torch.no_grad():
        expected = F.linear(x, linear.weight, bias + delta)
        assert torch.allclose(linear(x), expected, rtol=1e-12, atol=1e-12)
    assert torch.equal(linear.bias, bias)
