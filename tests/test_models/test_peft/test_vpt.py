"""VPT: Swin only, its arguments, its gated prompt attention against a
direct computation, and Swin's own ``with_cp``."""
import pytest
import torch

from mmprotune.testing.peft_cases import (IMG, METHODS, RESNET_ALLOWED, SWIN,
                                          WRAPPERS, assert_refused, build_pair,
                                          forward_all, perturb, perturbed_run)


@pytest.mark.parametrize('family, prompt_cfg, pattern', [
    ('resnet', dict(type='VPT'),
     r"prompt_cfg.type='VPT' applies to \['swin'\] backbones, not to "
     r"'resnet'; allowed: " + RESNET_ALLOWED),
    ('swin', dict(type='VPT', hidden_channels=4),
     r"unknown prompt_cfg field\(s\) \['hidden_channels'\]; allowed: "
     r"\['num_tokens', 'stages', 'type'\]"),
    ('swin', dict(type='VPT', num_tokens=0),
     r'prompt_cfg.num_tokens must be an int > 0, got 0'),
    ('swin', dict(type='VPT', num_tokens=2.5),
     r'prompt_cfg.num_tokens must be an int > 0, got 2.5'),
    ('swin', dict(type='VPT', num_tokens=True),
     r'prompt_cfg.num_tokens must be an int > 0, got True'),
])
def test_bad_prompt_cfg(family, prompt_cfg, pattern):
    assert_refused(family, prompt_cfg, pattern)


@pytest.mark.parametrize('case', ['mmdet-Swin', 'mmseg-Swin'])
def test_vpt_gated_attention_matches_its_formula(case):
    """The hooked ``WindowMSA`` of a block, with non-zero gates and a mask
    (as in shifted windows), equals the upstream attention plus the gated
    prompt attention computed head by head (float64)."""
    wrapper_cls, _, kwargs, _ = WRAPPERS[case]
    wrapped = wrapper_cls(**dict(kwargs, num_heads=(2, 4)),
                          prompt_cfg=METHODS['VPT'])
    wrapped.init_weights()
    wrapped.double()
    perturb(wrapped)
    w_msa = wrapped.stages[0].blocks[1].attn.w_msa
    layer = wrapped.prompts['0'].layers['blocks_1_attn_w_msa']
    tokens, gate = layer.tokens, layer.gate
    assert gate.abs().min() > 0
    generator = torch.Generator().manual_seed(0)
    c, n = w_msa.embed_dims, w_msa.window_size[0] * w_msa.window_size[1]
    x = torch.randn(4, n, c, generator=generator, dtype=torch.float64)
    mask = -100.0 * (torch.rand(2, n, n, generator=generator) > 0.5).double()
    with torch.no_grad():
        out = w_msa(x, mask=mask)
        upstream = w_msa.forward(x, mask=mask)  # no hooks
        d = c // w_msa.num_heads
        weight, bias = w_msa.qkv.weight, w_msa.qkv.bias

        def project(inputs, which, head):
            """q (which=0), k (1) or v (2) of ``head``."""
            rows = slice(which * c + head * d, which * c + (head + 1) * d)
            return inputs @ weight[rows].T + bias[rows]

        heads = []
        for h in range(w_msa.num_heads):
            q = project(x, 0, h)
            k, v = project(tokens, 1, h), project(tokens, 2, h)
            scores = torch.einsum('wnd,td->wnt', q, k) * w_msa.scale
            heads.append(gate[h] * torch.softmax(scores, dim=-1) @ v)
        expected = upstream + torch.cat(heads, dim=-1) @ w_msa.proj.weight.T
    assert not torch.allclose(out, upstream)
    assert torch.allclose(out, expected, rtol=1e-10, atol=1e-12)


def test_vpt_gates_learn_first(checkpoints):
    """At step 0 the gates get a gradient and the tokens none (their path
    is gated by 0)."""
    _, wrapped = build_pair('mmdet-Swin', checkpoints, METHODS['VPT'])
    wrapped.train()
    forward_all(wrapped, torch.randn(2, 3, IMG, IMG)).square().sum().backward()
    layers = [layer for method in wrapped.prompts.values()
              for layer in method.layers.values()]
    assert len(layers) == sum(SWIN['depths'])
    for layer in layers:
        assert layer.gate.grad.abs().min() > 0
        assert torch.count_nonzero(layer.tokens.grad) == 0


def test_vpt_runs_in_blocks_with_cp(checkpoints):
    """Swin's own ``with_cp`` recomputes the window attention, hook
    included: same outputs and gradients as without it."""
    results = [
        perturbed_run('mmseg-Swin', checkpoints, METHODS['VPT'],
                      with_cp=with_cp) for with_cp in (False, True)
    ]
    (out_a, grads_a), (out_b, grads_b) = results
    torch.testing.assert_close(out_a, out_b, rtol=0, atol=0)
    for grad_a, grad_b in zip(grads_a, grads_b):
        torch.testing.assert_close(grad_a, grad_b, rtol=1e-5, atol=1e-7)
