"""A few iterations of the real mmengine Runner for a detector, a segmentor
and a classifier with each wrapper family: losses finite, frozen weights and
BN statistics bit-identical to the loaded checkpoint, every prompt parameter
and the heads moved."""
import math

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmprotune.testing.runner_cases import (CASES, Snapshot,
                                            assert_upstream_as_loaded,
                                            build_case, train_frozen)

pytestmark = pytest.mark.slow


@pytest.mark.parametrize('name', sorted(CASES))
def test_runner_trains_prompts_and_heads_only(name, data, tmp_path):
    cfg, loaded = build_case(name, data, tmp_path)
    runner = Runner.from_cfg(cfg)
    snapshot = Snapshot()
    runner.register_hook(snapshot)
    runner.train()

    loss = runner.message_hub.get_scalar('train/loss').current()
    assert math.isfinite(loss)
    # step 0 is the pretrained model: a model-level init (Swin-T
    # classifier's TruncNormal of every Linear) left the prompts' zero
    # up-projections at zero
    ups = [k for k in snapshot.state if k.startswith('backbone.prompts.')
           and '.up.' in k]
    assert ups and not any(snapshot.state[k].any() for k in ups)
    state = runner.model.state_dict()
    upstream_keys = assert_upstream_as_loaded(state, loaded)
    moved = {
        k for k in state
        if state[k].is_floating_point()
        and not torch.equal(state[k], snapshot.state[k])
    }
    # every prompt parameter got a gradient (AdamW moves each one that did)
    prompt_keys = [k for k, p in runner.model.named_parameters()
                   if k.startswith('backbone.prompts.')]
    assert prompt_keys and all(k in moved for k in prompt_keys)
    head = dict(mmdet='bbox_head.', mmseg='decode_head.',
                mmpretrain='head.')[CASES[name][0]]
    assert any(k.startswith(head) for k in moved)
    if CASES[name][0] == 'mmdet':
        assert any(k.startswith('neck.') for k in moved)
    assert not any(k in upstream_keys for k in moved)


class GradRecord(Hook):
    """Names the prompt parameters that get a non-zero gradient in some
    training iteration (before the optimizer wrapper's ``zero_grad``)."""

    def before_train(self, runner):
        self.nonzero = set()
        self.handles = [
            param.register_post_accumulate_grad_hook(self._recorder(name))
            for name, param in runner.model.named_parameters()
            if name.startswith('backbone.prompts.')
        ]

    def _recorder(self, name):

        def record(param):
            if param.grad.any():
                self.nonzero.add(name)

        return record

    def after_train(self, runner):
        for handle in self.handles:
            handle.remove()


#: (Runner case, prompt_cfg, upstream backbone overrides): each prompt_cfg
#: variant in a ResNet (strided stages, and V1c's dilated ones of stride 1)
#: and a Swin model; the Swin's first stage gets two blocks, so 'block' puts
#: two prompts there; the block's own variants (multi-scale kernels, the
#: learnt scale) ride along on a strided and a token case
VARIANT_CASES = {
    'mmdet-retinanet-resnet-ms-scale': (
        'mmdet-retinanet-resnet', dict(kernel_size=(3, 5), layer_scale=True),
        None),
    'mmseg-fcn-resnetv1c-block-output': (
        'mmseg-fcn-resnetv1c', dict(placement='block', prompt_input='output'),
        None),
    'mmseg-upernet-swin-block': ('mmseg-upernet-swin',
                                 dict(placement='block'),
                                 dict(depths=(2, 1, 1, 1))),
    'mmdet-retinanet-swin-output-ms-scale': (
        'mmdet-retinanet-swin',
        dict(prompt_input='output', kernel_size=(3, 5), layer_scale=True),
        None),
}


@pytest.mark.parametrize('name', sorted(VARIANT_CASES))
def test_runner_trains_prompt_variants(name, data, tmp_path):
    """Every prompt_cfg variant through the real Runner: the frozen weights
    and BN statistics as loaded, every prompt parameter a non-zero
    gradient (the zero-initialised ``up`` at step 1, the rest from step 2
    on)."""
    case, prompt_cfg, overrides = VARIANT_CASES[name]
    record = GradRecord()
    runner = train_frozen(case, data, tmp_path, prompt_cfg, record,
                          overrides)
    backbone = runner.model.backbone
    sites = [name for name, _ in backbone.tuning_modules()]
    if prompt_cfg.get('placement') == 'block':
        assert len(sites) == sum(
            len(backbone.blocks_in_stage(i)) for i in range(4)) > 4
    else:
        assert sites == ['0', '1', '2', '3']
    prompt_keys = {k for k, _ in runner.model.named_parameters()
                   if k.startswith('backbone.prompts.')}
    assert prompt_keys and record.nonzero == prompt_keys
