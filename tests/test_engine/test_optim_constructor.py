import pytest
from mmdet.registry import MODELS
from mmengine.hub import get_config
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

import mmprotune  # noqa: F401


def tiny_retinanet(backbone_type, **backbone):
    cfg = get_config('mmdet::retinanet/retinanet_r50_fpn_1x_coco.py').model
    cfg.backbone = dict(type=backbone_type, depth=18, base_channels=8,
                        **backbone)
    cfg.neck.update(in_channels=[8, 16, 32, 64], out_channels=16)
    cfg.bbox_head.update(in_channels=16, feat_channels=16, stacked_convs=1)
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MODELS.build(cfg)


def build(model, **paramwise_cfg):
    return build_optim_wrapper(
        model,
        dict(
            constructor='ProTuneOptimWrapperConstructor',
            optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05),
            paramwise_cfg=paramwise_cfg))


def optimised(optim_wrapper):
    return {
        id(p)
        for g in optim_wrapper.optimizer.param_groups for p in g['params']
    }


def test_only_trainable_parameters_with_their_own_groups(capsys):
    # a new current logger writes to the captured stdout
    MMLogger.get_instance(f'optim-{id(capsys)}', log_level='INFO')
    model = tiny_retinanet('ProTuneResNet')
    optim_wrapper = build(
        model, custom_keys={
            'backbone.prompts': dict(lr_mult=3.0, decay_mult=0.0),
            'bbox_head': dict(lr_mult=2.0)})
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert optimised(optim_wrapper) == trainable
    names = {id(p): n for n, p in model.named_parameters()}
    for group in optim_wrapper.optimizer.param_groups:
        name = names[id(group['params'][0])]
        if name.startswith('backbone.prompts.'):
            assert group['lr'] == pytest.approx(3e-4)
            assert group['weight_decay'] == 0.0
        elif name.startswith('bbox_head.'):
            assert group['lr'] == pytest.approx(2e-4)
            assert group['weight_decay'] == 0.05
        else:
            assert name.startswith('neck.'), name
            assert (group['lr'], group['weight_decay']) == (1e-4, 0.05)
    out = capsys.readouterr().out
    prompts = sum(p.numel() for p in model.backbone.prompts.parameters())
    assert f'backbone.prompts: {prompts:,} params, lr=0.0003, ' \
        'weight_decay=0' in out
    assert 'frozen ones are left out' in out
    assert 'skipped since its requires_grad=False' not in out


def test_without_paramwise_cfg_and_for_full_finetuning():
    model = tiny_retinanet('ResNet', frozen_stages=1)
    optim_wrapper = build(model)
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert optimised(optim_wrapper) == trainable
    assert any(n.startswith('backbone.layer4') for n, p in
               model.named_parameters() if id(p) in trainable)


def test_nothing_to_train_is_an_error():
    model = tiny_retinanet('ProTuneResNet')
    model.requires_grad_(False)
    with pytest.raises(ValueError, match='no trainable parameters'):
        build(model)
