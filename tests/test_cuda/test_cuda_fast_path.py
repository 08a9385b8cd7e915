"""On a CUDA GPU (skipped without one): the frozen-aware backward against
plain autograd in float64, under fp16 autocast, through mmengine's
``AmpOptimWrapper`` (fp16 with a loss scaler) and with channels_last."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import build_optim_wrapper

from mmprotune.models import ProTuneResNet, ProTuneSwinTransformer
from mmprotune.testing.backbone_pairs import efficient_and_plain, prompt_grads

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason='needs a CUDA GPU')

RESNET = dict(depth=18, base_channels=8, stem_channels=8)
SWIN = dict(embed_dims=16, depths=(2, 1, 2, 1), num_heads=(1, 2, 2, 4),
            window_size=4, pretrain_img_size=64)
CASES = {
    'ResNet18': (ProTuneResNet, RESNET),
    'Swin': (ProTuneSwinTransformer, SWIN),
}


@pytest.fixture(autouse=True)
def no_tf32():
    """float32 convolutions and matmuls in float32, not TF32."""
    saved = (torch.backends.cudnn.allow_tf32,
             torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    yield
    (torch.backends.cudnn.allow_tf32,
     torch.backends.cuda.matmul.allow_tf32) = saved


def _pair(name, dtype=torch.float32):
    cls, kwargs = CASES[name]
    efficient, plain = efficient_and_plain(cls, kwargs, dtype=dtype,
                                           device='cuda')
    return efficient.train(), plain.train()


def _inputs(plain, dtype=torch.float32):
    x = torch.randn(2, 3, 64, 64, dtype=dtype, device='cuda')
    with torch.no_grad():
        weights = [torch.randn_like(o) for o in plain(x)]
    return x, weights


def _format(channels_last):
    return torch.channels_last if channels_last else torch.contiguous_format


def _assert_aligned(grad, ref, min_cosine):
    """Same keys, every gradient finite and pointing where ``ref``'s
    does."""
    assert grad and grad.keys() == ref.keys()
    for key in grad:
        assert grad[key] is not None and grad[key].isfinite().all(), key
        cosine = F.cosine_similarity(grad[key].double().flatten(),
                                     ref[key].double().flatten(), dim=0)
        assert cosine > min_cosine, (key, cosine)


@pytest.mark.parametrize('channels_last', [False, True],
                         ids=['contiguous', 'channels_last'])
@pytest.mark.parametrize('name', sorted(CASES))
def test_float64_gradients_equal_plain_autograd(name, channels_last):
    """The CUDA kernels of the fast path (transposed convolution for the
    input gradient, packed masks) give plain autograd's gradients, also for
    a channels_last model and input."""
    efficient, plain = _pair(name, torch.double)
    x, weights = _inputs(plain, torch.double)
    if channels_last:
        efficient.to(memory_format=torch.channels_last)
    outs, grad, grad_x = prompt_grads(
        efficient, x.contiguous(memory_format=_format(channels_last)),
        weights)
    ref_outs, ref_grad, ref_grad_x = prompt_grads(plain, x, weights)
    for out, ref in zip(outs, ref_outs):
        assert torch.allclose(out, ref, rtol=1e-10, atol=1e-12)
    assert grad.keys() == ref_grad.keys()
    for key in grad:
        assert grad[key].abs().sum() > 0, key
        assert torch.allclose(grad[key], ref_grad[key], rtol=1e-8,
                              atol=1e-12), key
    assert torch.allclose(grad_x, ref_grad_x, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize('channels_last', [False, True],
                         ids=['contiguous', 'channels_last'])
@pytest.mark.parametrize('name', sorted(CASES))
def test_fp16_autocast_matches_plain_autograd(name, channels_last):
    efficient, plain = _pair(name)
    x, weights = _inputs(plain)
    if channels_last:
        efficient.to(memory_format=torch.channels_last)
    with torch.autocast('cuda', dtype=torch.float16):
        outs, grad, grad_x = prompt_grads(
            efficient, x.contiguous(memory_format=_format(channels_last)),
            weights)
        ref_outs, ref_grad, ref_grad_x = prompt_grads(plain, x, weights)
    for out, ref in zip(outs, ref_outs):
        assert out.dtype == ref.dtype
        assert torch.allclose(out.float(), ref.float(), rtol=1e-2, atol=1e-2)
    if name == 'ResNet18':  # conv + BN outputs: the autocast was real
        assert all(out.dtype == torch.float16 for out in outs)
    _assert_aligned(grad, ref_grad, 0.99)
    _assert_aligned(dict(x=grad_x), dict(x=ref_grad_x), 0.99)


@pytest.mark.parametrize('name', sorted(CASES))
def test_amp_optim_wrapper_matches_plain_autograd(name):
    """mmengine's ``AmpOptimWrapper`` (fp16 autocast, a loss scaler): the
    unscaled gradients and the first SGD step of the fast path follow plain
    autograd's."""
    models = _pair(name)
    x, weights = _inputs(models[1])
    grads, steps = [], []
    for model in models:
        wrapper = build_optim_wrapper(
            model,
            dict(type='AmpOptimWrapper', dtype='float16',
                 loss_scale=dict(init_scale=256.0),
                 optimizer=dict(type='SGD', lr=0.01)))
        with wrapper.optim_context(model):
            outs = model(x)
        loss = sum((o.float() * w).sum() for o, w in zip(outs, weights))
        wrapper.backward(loss)
        scale = wrapper.loss_scaler.get_scale()
        trainable = {n: p for n, p in model.named_parameters()
                     if p.requires_grad}
        grads.append({n: p.grad / scale for n, p in trainable.items()})
        before = {n: p.detach().clone() for n, p in trainable.items()}
        wrapper.step()
        wrapper.zero_grad()
        steps.append({n: p.detach() - before[n]
                      for n, p in trainable.items()})
    _assert_aligned(grads[0], grads[1], 0.99)
    _assert_aligned(steps[0], steps[1], 0.99)
