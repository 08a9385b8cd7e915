"""The method vocabulary (:mod:`mmprotune.analysis.methods`): the variants
derived from one Pro-tuning config build the models their names say, the
``--methods`` argument, and the transfer benchmark's methods are the cost
report's."""
import pytest
from mmengine.config import Config

from mmprotune.analysis.methods import (REPORT_METHODS, method_variants,
                                        parse_methods, peft_methods)
from mmprotune.analysis.transfer.catalog import DESIGN_VARIANTS, METHOD_TRACKS
from mmprotune.utils import build_model

# the README's two-line usage: the type changed, ``prompt_cfg`` left out
TINY_NO_PROMPT_CFG = """
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmprotune'], allow_failed_imports=False)
model = dict(
    backbone=dict(type='ProTuneResNet', depth=18, base_channels=8,
                  stem_channels=8),
    neck=dict(in_channels=[8, 16, 32, 64], out_channels=16),
    bbox_head=dict(in_channels=16, feat_channels=16, stacked_convs=1))
"""


def test_method_variants_change_only_the_backbone(tiny_config):
    cfg = Config.fromfile(str(tiny_config))
    variants = method_variants(cfg,
                               ['full', 'head-only', 'protune@autograd'])
    assert variants['full'].model.backbone.type == 'ResNet'
    assert 'prompt_cfg' not in variants['full'].model.backbone
    assert variants['head-only'].model.backbone.prompt_cfg.stages == []
    assert variants['protune@autograd'].model.backbone \
        .efficient_backward is False
    for preset in ('balanced', 'speed'):
        variant = method_variants(cfg, [f'protune@{preset}'])
        assert variant[f'protune@{preset}'].model.backbone \
            .efficient_backward == preset
    # a transfer-benchmark design is another axis, no report method
    with pytest.raises(ValueError, match=r"unknown method\(s\) "
                       r"\['protune-balanced'\]"):
        method_variants(cfg, ['protune-balanced'])
    for variant in variants.values():
        assert variant.model.neck == cfg.model.neck
        assert variant.optim_wrapper == cfg.optim_wrapper
    lora = method_variants(cfg, ['lora'])['lora'].model.backbone
    assert lora.type == 'ProTuneResNet'
    assert lora.prompt_cfg == dict(type='LoRA', stages=(0, 1, 2, 3))
    with pytest.raises(ValueError, match=r"unknown method\(s\) \['ssf'\]; "
                       r"allowed: \[.*'protune', .*'lora', .*'vpt'\]"):
        method_variants(cfg, ['ssf'])


def _trainable(model, prefix=''):
    return {name for name, p in model.named_parameters()
            if p.requires_grad and name.startswith(prefix)}


def test_method_variants_of_a_config_without_prompt_cfg(tmp_path):
    """Each derived variant builds the model its name says: checked on the
    built models' trainable parameters, not only on the config dicts."""
    path = tmp_path / 'tiny_two_line.py'
    path.write_text(TINY_NO_PROMPT_CFG)
    cfg = Config.fromfile(str(path))
    assert 'prompt_cfg' not in cfg.model.backbone
    methods = ['full', 'head-only', 'protune@autograd', 'protune', 'bitfit',
               'lora']
    variants = method_variants(cfg, methods)
    assert 'prompt_cfg' not in cfg.model.backbone  # the input is unchanged
    models = {m: build_model(variant) for m, variant in variants.items()}
    backbone = {m: _trainable(model, 'backbone.')
                for m, model in models.items()}
    # full: the upstream ResNet, trained whole but for its frozen stem
    # (frozen_stages=1, as upstream)
    assert type(models['full'].backbone).__name__ == 'ResNet'
    assert 'backbone.layer4.1.conv2.weight' in backbone['full']
    assert not any('prompts' in name for name in backbone['full'])
    # head-only: nothing in the backbone trains, no prompt blocks at all
    assert backbone['head-only'] == set()
    assert len(models['head-only'].backbone.prompts) == 0
    assert _trainable(models['head-only']) == _trainable(models['full']) - \
        backbone['full']
    # Pro-tuning, both backward paths: a prompt block per stage, only those
    assert backbone['protune'] == backbone['protune@autograd'] != set()
    assert all(name.startswith('backbone.prompts.')
               for name in backbone['protune'])
    assert sorted(models['protune'].backbone.prompts) == ['0', '1', '2', '3']
    assert models['protune'].backbone.efficient_backward is True
    assert models['protune@autograd'].backbone.efficient_backward is False
    # PEFT baselines: their own type, their own parameters only
    for method, kind in (('bitfit', 'BitFit'), ('lora', 'LoRA')):
        assert variants[method].model.backbone.prompt_cfg.type == kind
        blocks = models[method].backbone.prompts.values()
        assert {type(b).__name__ for b in blocks} == {kind}, method
        assert backbone[method] and backbone[method] != backbone['protune']
        assert all(name.startswith('backbone.prompts.')
                   for name in backbone[method]), method


def test_parse_methods():
    assert parse_methods(' full,head-only,, conv-adapter ') == [
        'full', 'head-only', 'conv-adapter']
    assert parse_methods('') == []


def test_one_vocabulary_with_the_cost_report():
    """The benchmark's methods are the cost report's (its derived methods and
    the PEFT baselines' ``method_name``), plus training from scratch and
    Pro-tuning's design-study variants (``protune-<variant>``)."""
    variants = {m for m in METHOD_TRACKS if m.startswith('protune-')}
    assert variants == {f'protune-{v}' for v in DESIGN_VARIANTS}
    assert set(METHOD_TRACKS) - {'scratch'} - variants <= \
        set(REPORT_METHODS) | set(peft_methods())
