"""tools/report.py measures the methods side by side; its parameter and
saved-bytes figures agree with independent counts."""
import json
import os
from pathlib import Path

import mmcv
import pytest
from mmengine.config import Config
from PIL import ImageColor

from mmprotune.analysis.benchmark import method_variants, parse_methods
from mmprotune.analysis.report import METHOD_COLOURS
from mmprotune.utils import build_model

REPO = Path(__file__).parents[2]
TINY = """
_base_ = '{base}'
model = dict(
    backbone=dict(depth=18, base_channels=8, stem_channels=8,
                  prompt_cfg=dict(hidden_channels=4)),
    neck=dict(in_channels=[8, 16, 32, 64], out_channels=16),
    bbox_head=dict(in_channels=16, feat_channels=16, stacked_convs=1))
"""


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


@pytest.fixture(scope='module')
def tiny_config(tmp_path_factory):
    path = tmp_path_factory.mktemp('cfg') / 'tiny_retinanet.py'
    path.write_text(TINY.format(
        base=REPO / 'configs/retinanet/retinanet_protune-r50_fpn_1x_coco.py'))
    return path


def test_method_variants_change_only_the_backbone(tiny_config):
    cfg = Config.fromfile(str(tiny_config))
    variants = method_variants(cfg, ['full', 'head-only', 'protune-naive'])
    assert variants['full'].model.backbone.type == 'ResNet'
    assert 'prompt_cfg' not in variants['full'].model.backbone
    assert variants['head-only'].model.backbone.prompt_cfg.stages == []
    assert variants['protune-naive'].model.backbone.efficient_backward is False
    for preset in ('balanced', 'speed'):
        variant = method_variants(cfg, [f'protune-{preset}'])
        assert variant[f'protune-{preset}'].model.backbone \
            .efficient_backward == preset
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
    methods = ['full', 'head-only', 'protune-naive', 'protune', 'bitfit',
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
    assert backbone['protune'] == backbone['protune-naive'] != set()
    assert all(name.startswith('backbone.prompts.')
               for name in backbone['protune'])
    assert sorted(models['protune'].backbone.prompts) == ['0', '1', '2', '3']
    assert models['protune'].backbone.efficient_backward is True
    assert models['protune-naive'].backbone.efficient_backward is False
    # PEFT baselines: their own type, their own parameters only
    for method, kind in (('bitfit', 'BitFit'), ('lora', 'LoRA')):
        assert variants[method].model.backbone.prompt_cfg.type == kind
        blocks = models[method].backbone.prompts.values()
        assert {type(b).__name__ for b in blocks} == {kind}, method
        assert backbone[method] and backbone[method] != backbone['protune']
        assert all(name.startswith('backbone.prompts.')
                   for name in backbone[method]), method


def test_method_names_and_their_old_spellings():
    assert parse_methods(' full,frozen,,finetune, convadapter ') == [
        'full', 'head-only', 'full', 'conv-adapter']
    assert parse_methods('') == []


def test_report_figures_match_independent_counts(tiny_config, tool,
                                                  tmp_path):
    """Parameters against the built models; memory against what must hold
    whatever the code measures: a backbone without anything to train saves
    nothing (the saved-bytes measure itself is checked against a count by
    hand in test_memory_figures.py)."""
    out_dir = tmp_path / 'report'
    # ``finetune``: the old spelling of ``full``
    rc, out = tool('tools/report.py', tiny_config, '--methods',
                   'finetune,head-only,protune', '--img-size', '64',
                   '--steps', '1', '--warmup', '0', '--out-dir', out_dir,
                   timeout=600)
    assert rc == 0, out[-3000:]
    assert '| protune |' in out and '×)' in out
    assert (out_dir / 'report.png').stat().st_size > 0
    report = json.loads((out_dir / 'report.json').read_text())
    assert report['reference'] == 'full'
    results = report['results']
    variants = method_variants(Config.fromfile(str(tiny_config)),
                               ['full', 'head-only', 'protune'])
    for method, cfg in variants.items():
        result = results[method]
        for key in ('train_step_s', 'backbone_step_s', 'inference_s'):
            assert result[key] > 0, (method, key)
        model = build_model(cfg)
        trainable = sum(p.numel() for p in model.parameters()
                        if p.requires_grad)
        assert result['params']['all']['trainable'] == trainable
        assert result['cuda_peak_bytes_backbone'] is None  # CPU here
    # head-only: a frozen backbone on an input without gradient
    assert results['head-only']['saved_bytes_backbone'] == 0
    params = results['head-only']['params']
    assert params['backbone (trainable)']['trainable'] == 0
    assert params['backbone.prompts']['total'] == 0
    # the backbone's outputs (in float32) are all it keeps
    assert 0 < results['head-only']['retained_bytes_backbone'] < \
        results['protune']['retained_bytes_backbone']
    assert 0 < results['protune']['saved_bytes_backbone'] < \
        results['full']['saved_bytes_backbone']
    assert results['protune']['saved_bytes_model'] > \
        results['protune']['saved_bytes_backbone']
    assert results['protune']['checkpoint_bytes_delta'] < \
        results['protune']['checkpoint_bytes_full']
    # the whole step's peak (counted by hand in test_memory_figures.py):
    # above the parameters, ranked as what the backward has to hold
    peaks = {m: results[m]['peak_bytes'] for m in variants}
    assert sorted(peaks, key=peaks.get) == ['head-only', 'protune', 'full']
    for method in variants:
        params = results[method]['params']['all']['total']
        assert peaks[method] > 4 * params

    # --from-json draws the chart again and prints the table the run printed
    (out_dir / 'report.png').unlink()
    rc, redrawn = tool('tools/report.py', '--from-json',
                       out_dir / 'report.json')
    assert rc == 0, redrawn[-3000:]
    table = redrawn[redrawn.index('| method |'):].strip()
    assert table.count('\n') == 1 + len(results)  # header, rule, rows
    assert table in out
    assert redrawn.strip() in out  # the title too
    chart = mmcv.imread(str(out_dir / 'report.png'), channel_order='rgb')
    # each method in its own fixed colour
    colours = {tuple(c) for c in chart.reshape(-1, 3).tolist()}
    for method in results:
        assert ImageColor.getrgb(METHOD_COLOURS[method]) in colours, method


def test_old_reports_redraw_with_todays_columns(tmp_path):
    """A report.json of an older version redraws: its ``cuda_peak_bytes``
    (the allocator's peak, measured on CUDA only) fills today's allocator
    column and the share above head-only derives from it. The committed
    reports, with the peak under its old key."""
    from mmprotune.analysis.report import redraw
    for committed in sorted((REPO / 'docs/report').glob('*/report.json')):
        report = json.loads(committed.read_text())
        mib = dict(full=4000, protune=2600, **{'head-only': 2000})
        for method, result in report['results'].items():
            result.pop('peak_bytes', None)
            result['cuda_peak_bytes'] = mib.get(method, 3000) * 2**20
        path = tmp_path / committed.parent.name / 'report.json'
        path.parent.mkdir()
        path.write_text(json.dumps(report))
        rows = {
            line.split(' | ')[0][2:]: line.split(' | ')
            for line in redraw(str(path)).splitlines()
            if line.startswith('| ')
        }
        column = rows['method'].index('peak memory (allocator, train step)')
        assert rows['protune'][column] == '2600.0 MiB (0.65×)'
        # (2600 - 2000) / 4000, the goal's figure of issue 17
        assert rows['protune'][column + 1] == '0.15'
        assert rows['head-only'][column + 1] == '0.00'
        assert (path.parent / 'report.png').stat().st_size > 0


def test_reports_are_written_atomically(tmp_path):
    """report.png and transfer.json/.png: each rewrite is a new file renamed
    onto the old one (a new inode), never the old file emptied and
    rewritten in place."""
    from mmprotune.analysis.report import plot
    from mmprotune.analysis.transfer import transfer_settings
    from mmprotune.analysis.transfer_report import plot as transfer_plot
    from mmprotune.analysis.transfer_report import summarize, write_report
    results = dict(full=dict(trainable_params=2.0, train_step_s=1.0),
                   protune=dict(trainable_params=1.0, train_step_s=0.5))
    settings = transfer_settings(quick=True, out_dir=str(tmp_path))
    runs = [dict(train_size=8, method='protune', phase='test', lr=1e-2,
                 seed=0, mIoU=50.0, step_s=0.1,
                 trainable_params=1, backbone_trainable_params=1,
                 saved_bytes=1, checkpoint_bytes=1)]
    writes = dict(
        png=lambda: plot(results, 'full', 'title', str(tmp_path / 'r.png')),
        json=lambda: write_report(settings, {}, runs, 1.0, False),
        transfer_png=lambda: transfer_plot(
            summarize(runs), str(tmp_path / 't.png'), 'resnet18'))
    files = dict(png='r.png', json='transfer.json', transfer_png='t.png')
    for kind, write in writes.items():
        path = tmp_path / files[kind]
        write()
        first = os.stat(path).st_ino
        write()
        assert os.stat(path).st_ino != first, kind
        assert path.stat().st_size > 0
    assert not [f for f in os.listdir(tmp_path) if f.endswith('.tmp')]
