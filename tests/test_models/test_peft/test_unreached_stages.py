"""A tuned stage after the last ``out_indices`` stage reaches no output: its
parameters would get no gradient (DDP with ``find_unused_parameters=False``
fails on them). An explicit ``prompt_cfg.stages`` with such a stage is
refused at build time; the default tunes only the stages that reach an
output."""
import re

import pytest
import torch

from mmprotune.testing.peft_cases import IMG, WRAPPERS

RESNET_CASE, SWIN_CASE = 'mmdet-ResNet', 'mmseg-Swin'


def _build(case, out_indices, **prompt_cfg):
    wrapper_cls, _, kwargs, _ = WRAPPERS[case]
    kwargs = dict(kwargs, out_indices=out_indices)
    return wrapper_cls(**kwargs, prompt_cfg=prompt_cfg)


@pytest.mark.parametrize('case, out_indices, stages, after', [
    (RESNET_CASE, (0, 1, 2), [0, 3], [3]),
    (RESNET_CASE, (1, ), [1, 2, 3], [2, 3]),
    (SWIN_CASE, (0, ), [1], [1]),
])
@pytest.mark.parametrize('method', [None, 'BitFit', 'LoRA'])
def test_stage_after_last_output_is_refused(case, out_indices, stages, after,
                                            method):
    cfg = dict(stages=stages) if method is None else dict(type=method,
                                                          stages=stages)
    last = max(out_indices)
    pattern = re.escape(
        f'prompt_cfg.stages={stages} tunes stage(s) {after} after the last '
        f'output stage {last} (out_indices={out_indices})') + \
        '.*' + re.escape(f'allowed: stages in [0, {last}]')
    with pytest.raises(ValueError, match=pattern):
        _build(case, out_indices, **cfg)


@pytest.mark.parametrize('case, out_indices', [(RESNET_CASE, (0, 1, 2)),
                                               (SWIN_CASE, (0, ))])
@pytest.mark.parametrize('method', [None, 'BitFit'])
def test_default_stages_stop_at_the_last_output(case, out_indices, method):
    cfg = {} if method is None else dict(type=method)
    model = _build(case, out_indices, **cfg)
    last = max(out_indices)
    assert sorted(model.prompts) == [str(i) for i in range(last + 1)]
    model.train()
    sum(o.sum() for o in model(torch.rand(1, 3, IMG, IMG))).backward()
    for name, param in model.prompts.named_parameters():
        assert param.grad is not None, name


def test_stages_up_to_the_last_output_build():
    model = _build(RESNET_CASE, (0, 2), stages=[1, 2])
    assert sorted(model.prompts) == ['1', '2']
