"""``tools/benchmark_transfer.py`` and :mod:`mmprotune.analysis.transfer`:
the protocol end to end in a reduced setting (selection and test splits
disjoint in the files the runs read, the selection curves of the training
loop's validations, the chosen lr the best selection score, recorded runs
skipped on a rerun, ``--select-only``, the tables and plots redrawn from
the JSON); a reduced run through the command for each task and backbone
track (pretraining, data, Runner training and test per method, markdown,
JSON, plots), its parameter counts against an independent count, the seed
statistics, paired differences, curve rule and Pareto front, the backbone
lr multiplier in the optimizer, the tracks' defaults, and the command's
errors for an unknown method, mismatched iterations or a bad grid."""
import json
import os
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from mmprotune.analysis import transfer
from mmprotune.analysis.transfer_report import (markdown, paired, selection,
                                                summarize, write_report)
from mmprotune.testing import REPO_ROOT, run_tool
from mmprotune.utils import build_model

TOOL = 'tools/benchmark_transfer.py'
PNG = b'\x89PNG\r\n\x1a\n'
#: The shape of one tensor of each backbone's source checkpoint.
SOURCE_TENSOR = dict(
    resnet18=('conv1.weight', (16, 3, 7, 7)),
    swin=('patch_embed.projection.weight', (32, 3, 2, 2)))
#: Per track: the task and backbone, and the methods of its quick run: on
#: the classification task every default method of the track (``scratch``,
#: the ``full`` config without ``init_cfg``, trains in
#: tests/test_configs), on the segmentation task those beside its other
#: tests.
TRACKS = {
    'resnet18': ('seg', 'resnet18', ('full', 'head-only', 'protune')),
    'swin': ('seg', 'swin', ('full', 'head-only', 'protune', 'adaptformer',
                             'vpt')),
    'resnet18-cls': ('cls', 'resnet18',
                     tuple(transfer.default_methods('resnet18', 'cls'))),
    'swin-cls': ('cls', 'swin', tuple(transfer.default_methods('swin',
                                                               'cls'))),
}


def _run(*args, cwd):
    """Run the command, its stdout and stderr apart."""
    return run_tool(TOOL, *args, cwd=cwd, merge_stderr=False)


def _build(config: str):
    """The config's model (no weights loaded)."""
    return build_model(Config.fromfile(config))


def _trainable(config: str) -> tuple:
    """(all, backbone) trainable parameters of the config's model, counted
    here from ``requires_grad``."""
    trainable = [(n, p.numel()) for n, p in _build(config).named_parameters()
                 if p.requires_grad]
    return (sum(n for _, n in trainable),
            sum(n for name, n in trainable if name.startswith('backbone.')))


@pytest.mark.parametrize('track', list(TRACKS))
def test_benchmark_transfer_quick(tmp_path, track):
    """Every method of each track trains and tests through the command (an
    lr grid of one value: no selection runs, as fast as one run each; the
    selection is test_protocol_end_to_end's)."""
    task, backbone, methods = TRACKS[track]
    key, shape = SOURCE_TENSOR[backbone]
    out_dir = tmp_path / 'out'
    args = ('--quick', '--task', task, '--backbone', backbone, '--methods',
            ','.join(methods), '--lr-grid', '3e-3', '--out-dir', str(out_dir))
    proc = _run(*args, cwd=tmp_path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    out = proc.stdout
    label = transfer.TASKS[task]['metric_label']
    assert '**8 training images, 4 iterations** ' \
        f'({label} in % on the test split, mean ± sample std over seeds)' \
        in out
    assert f'| method | lr | backbone lr × | {label} | seeds |' in out
    assert f'; {label} on 8 test images, lr 0.003 (no selection); ' \
        'training images drawn per seed from a pool of 16' in out
    assert 'Selection (' not in out  # nothing to choose from
    for method in methods:
        # the quick multiplier grid is 1: applied to full fine-tuning only
        mult = '1' if method == 'full' else '–'
        assert f'| {method} | 0.003 | {mult} | ' in out

    report = json.loads((out_dir / 'transfer.json').read_text())
    assert report['settings']['methods'] == list(methods)
    assert report['settings']['backbone'] == backbone
    assert report['settings']['task'] == task
    assert report['metric'] == transfer.TASKS[task]['metric']
    assert report['settings']['seeds'] == 1
    assert report['source']['summary'].startswith('final train loss')
    assert [(r['method'], r['phase'], r['lr'], r['seed'])
            for r in report['runs']] == [(m, 'test', 3e-3, 0)
                                         for m in methods]
    summary = report['summary']['8']
    for run in report['runs']:
        assert set(run) >= set(transfer.TASKS[task]['metrics'])
        s = summary[run['method']]
        assert s['seeds'] == [run[report['metric']]]
    for method in methods:
        s = summary[method]
        assert 0 <= s['mean'] <= 100 and s['std'] == 0
        assert s['step_s'] > 0 and s['saved_bytes'] > 0
        assert (s['trainable_params'], s['backbone_trainable_params']) == \
            _trainable(transfer.config_path(method, backbone, task))
    assert [r['config'] for r in report['runs']] == [
        os.path.relpath(transfer.config_path(m, backbone, task), REPO_ROOT)
        for m in methods
    ]
    assert summary['head-only']['backbone_trainable_params'] == 0
    # training the whole backbone needs its gradients and AdamW's two
    # states on top of a frozen one's: at least 3x its parameters' bytes
    full, head = summary['full'], summary['head-only']
    assert full['peak_train_bytes'] - head['peak_train_bytes'] >= \
        3 * 4 * full['backbone_trainable_params']
    # a frozen backbone's per-task checkpoint is a delta: far smaller
    assert summary['protune']['checkpoint_bytes'] < \
        summary['full']['checkpoint_bytes'] / 5
    plots = ('transfer.png', 'transfer_pareto.png')  # no selection curves
    for name in plots:
        assert (out_dir / name).read_bytes()[:8] == PNG
        (out_dir / name).unlink()
    assert not (out_dir / 'transfer_curves.png').exists()
    # the tables and the plots drawn again from the JSON alone, without
    # training: the same text as the run printed
    redraw = _run('--from-json', str(out_dir / 'transfer.json'),
                  cwd=tmp_path)
    assert redraw.returncode == 0, (redraw.stdout + redraw.stderr)[-5000:]
    assert out.endswith(redraw.stdout)
    assert f'{len(methods)} runs ({len(methods)} trained, 0 from records)' \
        in redraw.stdout
    for name in plots:
        assert (out_dir / name).read_bytes()[:8] == PNG
    # the source checkpoint is a plain backbone state dict, with the keys
    # of the target configs' upstream backbone
    checkpoint = Path(report['source']['checkpoint'])
    assert checkpoint.parent == out_dir
    assert checkpoint.name.startswith(
        transfer.BACKBONES[backbone]['checkpoint_stem'])
    state = torch.load(checkpoint, map_location='cpu')['state_dict']
    assert state[key].shape == shape
    assert set(state) == set(
        _build(transfer.config_path('full', backbone,
                                    task)).backbone.state_dict())
    if backbone == 'resnet18':
        # with the BN statistics of pretraining, not the initial 0 / 1
        assert not torch.equal(state['bn1.running_var'],
                               torch.ones_like(state['bn1.running_var']))
    # the records: one per run, and a copy of the source with its sidecar
    # in their sources folder
    records = sorted(p.name for p in (out_dir / 'records').glob('*.json'))
    assert len(records) == len(methods)
    assert all(name.startswith(f'{track}_n8_') for name in records)
    for name in (checkpoint.name, checkpoint.with_suffix('.json').name):
        assert (out_dir / 'records' / 'sources' / name).read_bytes() == \
            (out_dir / name).read_bytes()
    if task == 'seg':  # a segmentation rerun: test_protocol_end_to_end
        return
    # a rerun trains nothing: every run is recorded (in the track's own
    # files), and it prints the same tables
    rerun = _run(*args, cwd=tmp_path)
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-5000:]
    assert _counts(rerun.stdout) == (0, len(methods))
    tables = out[out.index('**8 training images'):]
    assert rerun.stdout.endswith(tables)


def _runs_of(method, phase, lr, values, **figures):
    """Stand-in runs of ``method``, one per value (seeds 0, 1, ...)."""
    figures.setdefault('peak_train_bytes', 3 * 2**20)
    return [dict(train_size=50, method=method, phase=phase, lr=lr,
                 seed=seed, mIoU=value, step_s=0.1 * (seed + 1),
                 trainable_params=10, backbone_trainable_params=4,
                 saved_bytes=2**20, checkpoint_bytes=2**20, **figures)
            for seed, value in enumerate(values)]


def _curve(*values):
    """A selection curve of ``values`` at iterations 10, 20, ..."""
    return [dict(iter=10 * (i + 1), mIoU=v) for i, v in enumerate(values)]


def test_summary_selection_and_paired_differences():
    runs = (_runs_of('head-only', 'select', 1e-3, [30],
                     curve=_curve(29, 30)) +
            _runs_of('head-only', 'select', 1e-2, [30],
                     curve=_curve(10, 30)) +  # a tie
            _runs_of('head-only', 'test', 1e-3, [52, 53, 57]) +
            _runs_of('protune', 'select', 1e-3, [40], curve=_curve(20, 40)) +
            _runs_of('protune', 'select', 1e-2, [45],
                     curve=_curve(41, 44.5, 45)) +
            _runs_of('protune', 'test', 1e-2, [60, 64, 68]) +
            # a method with pretrained weights: its lr and multiplier
            # chosen jointly
            _runs_of('full', 'select', 1e-3, [50], backbone_lr_mult=1.,
                     curve=_curve(30, 50)) +
            _runs_of('full', 'select', 1e-3, [47], backbone_lr_mult=0.1,
                     curve=_curve(46, 47)) +
            _runs_of('full', 'select', 1e-2, [20], backbone_lr_mult=1.,
                     curve=_curve(20, 20)) +
            _runs_of('full', 'select', 1e-2, [49], backbone_lr_mult=0.1,
                     curve=_curve(44, 49)) +
            _runs_of('full', 'test', 1e-3, [61, 62, 63],
                     backbone_lr_mult=1.))
    table = summarize(runs)  # the test runs only
    s = table[50]['protune']
    assert s['mean'] == 64 and s['std'] == 4 and s['lr'] == 1e-2
    assert s['seeds'] == [60, 64, 68] and s['step_s'] == 0.2
    assert table[50]['head-only']['mean'] == 54
    choices = selection(runs)
    # the chosen lr's curve: gains 0.5 over 44.5 (< 1: flat)
    assert choices[50]['protune'] == dict(
        scores={'0.001': 40, '0.01': 45}, lr=1e-2, backbone_lr_mult=None,
        curve=[[10, 41], [20, 44.5], [30, 45]], gain=0.5,
        still_improving=False, lr_at_edge='top')
    # of equal: the smaller lr, whose curve gains 1 (still improving)
    assert choices[50]['head-only']['lr'] == 1e-3
    assert choices[50]['head-only']['still_improving'] is True
    assert choices[50]['full']['scores'] == {
        '0.001x1': 50, '0.001x0.1': 47, '0.01x1': 20, '0.01x0.1': 49}
    assert (choices[50]['full']['lr'],
            choices[50]['full']['backbone_lr_mult']) == (1e-3, 1.)
    assert choices[50]['full']['gain'] == 20
    # seed by seed: 60-52, 64-53, 68-57
    diff = paired(runs)[50]['head-only']
    assert diff['diffs'] == [8, 11, 11] and diff['mean'] == 10
    assert diff['std'] == pytest.approx(3**0.5)
    assert 'protune' not in paired(runs)[50]
    text = markdown(runs, iters={50: 100})
    assert '**50 training images, 100 iterations** (mIoU in % on the test ' \
        'split, mean ± sample std over seeds; lr chosen on the selection ' \
        'split)' in text
    assert '| protune | 0.01 | – | 64.0 ± 4.0 | 60.0 / 64.0 / 68.0 | ' \
        '+10.0 | – | 10 (4) | 200 ms | 3.0 MiB | 1.0 MiB | 1.00 MiB |' in text
    assert '| head-only (still improving) | 0.001 | – | 54.0 ± 2.6 | 52.0 / ' \
        '53.0 / 57.0 | +0.0 | +10.0 ± 1.7 |' in text
    assert '| full (still improving) | 0.001 | 1 | 62.0 ± 1.0 |' in text
    assert '| method | backbone lr × | lr 0.001 | lr 0.01 | chosen curve: ' \
        'last gain |' in text
    assert '| head-only | – | **30.0** | 30.0 | +1.0 (still improving) |' \
        in text
    assert '| protune | – | 40.0 | **45.0** | +0.5 (flat) |' in text
    assert '| full | 1 | **50.0** | 20.0 | +20.0 (still improving) |' in text
    assert '| full | 0.1 | 47.0 | 49.0 |  |' in text
    # every choice here is the grid's largest or smallest lr
    assert 'Chosen lr at an edge of the grid (the best may lie outside it; ' \
        'widen --lr-grid): head-only (bottom), protune (top), full ' \
        '(bottom).' in text
    # the same peak memory for all: none is lighter, all on the front
    assert 'Pareto front of test mIoU against peak training memory (no ' \
        'other method both more accurate and lighter): head-only, ' \
        'protune, full; protune is on it.' in text
    # another task's metric, under its name
    runs = [dict(run, top1=run['mIoU'] + 1,
                 curve=[dict(point, top1=point['mIoU'] + 1)
                        for point in run.get('curve', [])])
            for run in runs]
    assert summarize(runs, 'top1')[50]['protune']['seeds'] == [61, 65, 69]
    text = markdown(runs, iters={50: 100}, metric='top1',
                    metric_label='top-1 accuracy')
    assert '(top-1 accuracy in %' in text and '| top-1 accuracy |' in text
    assert '| protune | 0.01 | – | 65.0 ± 4.0 | 61.0 / 65.0 / 69.0 | ' \
        '+10.0 |' in text


def test_still_improving_rule():
    """Still improving: the last point gains at least 1 (point of the
    metric) over the best earlier one, not over the one before it."""
    from mmprotune.analysis.transfer_report import curve_gain, still_improving
    curves = {
        (10, 20, 30, 40): True,  # +10
        (10, 20, 30, 30.9): False,  # +0.9
        (10, 20, 30, 31): True,  # exactly +1
        (10, 50, 30, 45): False,  # below an earlier peak
        (10, 50, 30, 50.5): False,  # +0.5 over the peak, +20.5 over 30
        (60, 50, 40, 30): False,  # falling
    }
    for curve, improving in curves.items():
        assert still_improving(list(curve)) is improving, curve
    assert curve_gain([10, 50, 30, 45]) == -5
    assert still_improving([42.]) is None and curve_gain([42.]) is None


def test_pareto_front():
    """No other method both more accurate and lighter; a tie in either
    keeps both on the front."""
    from mmprotune.analysis.transfer_report import pareto, pareto_front
    points = dict(
        full=(70., 300.),  # the most accurate
        mona=(65., 250.),
        lora=(60., 260.),  # mona: more accurate and lighter
        protune=(66., 120.),  # dominates mona too
        bitfit=(55., 120.),  # protune: as light, more accurate; stays
        head=(40., 100.),  # the lightest
        vpt=(39., 110.))  # head: both
    assert pareto_front(points) == ['full', 'protune', 'bitfit', 'head']
    assert pareto_front(dict(a=(1., 1.))) == ['a']
    # from the test runs: the mean over seeds and the peak memory
    runs = (_runs_of('protune', 'test', 1e-2, [60, 70],
                     peak_train_bytes=100) +
            _runs_of('full', 'test', 1e-2, [64, 65], peak_train_bytes=300) +
            _runs_of('mona', 'test', 1e-2, [66, 68], peak_train_bytes=200) +
            _runs_of('lora', 'select', 1e-2, [90], peak_train_bytes=50))
    assert pareto(runs) == {50: ['protune', 'mona']}
    text = markdown(runs, iters={50: 10})
    assert 'lighter): protune, mona; protune is on it.' in text
    runs = [dict(r, mIoU=r['mIoU'] + 5) if r['method'] == 'full' else r
            for r in runs]
    assert 'lighter): protune, full, mona; protune is on it.' in markdown(
        runs, iters={50: 10})
    runs = [dict(r, peak_train_bytes=250) if r['method'] == 'protune' else r
            for r in runs]
    # protune (65, 250) under mona (67, 200); full (69.5, 300) stays
    assert 'lighter): full, mona; protune is not on it (mona: more ' \
        'accurate and ' \
        'lighter).' in markdown(runs, iters={50: 10})


def test_report_holds_python_numbers(tmp_path):
    """Metrics arrive as numpy scalars (mmseg's IoUMetric gives np.float32
    under numpy 2): ``transfer.json`` is still written, with plain numbers,
    and no temporary file is left beside it."""
    import numpy as np
    settings = transfer.transfer_settings(quick=True, out_dir=str(tmp_path))
    runs = _runs_of('protune', 'test', 1e-2,
                    [np.float32(50.25), np.float32(51.25)],
                    loss_curve=np.array([0.5, 0.25], dtype=np.float32))
    runs[0]['trainable_params'] = np.int64(10)
    write_report(settings, dict(summary='stand-in source'), runs,
                 total_s=np.float32(3.0), complete=True)
    report = json.loads((tmp_path / 'transfer.json').read_text())
    assert [r['mIoU'] for r in report['runs']] == [50.25, 51.25]
    assert report['runs'][0]['loss_curve'] == [0.5, 0.25]
    assert report['summary']['50']['protune']['mean'] == 50.75
    assert report['summary']['50']['protune']['trainable_params'] == 10
    assert os.listdir(tmp_path) == ['transfer.json']


def test_redraw_a_protocol_1_report(tmp_path):
    """A ``transfer.json`` of protocol 1 (committed under docs/: no
    protocol, no phases, no lr in its runs) is still drawn: every run a
    test run, the lr unknown, no selection."""
    from mmprotune.analysis.transfer_report import redraw
    settings = transfer.transfer_settings(
        quick=True, train_sizes=[50], iters=[4], out_dir=str(tmp_path))
    runs = _runs_of('protune', 'test', 1e-2, [60, 64, 68])
    report = write_report(settings, dict(summary='stand-in source'), runs,
                          total_s=1.0, complete=True)
    report.pop('protocol')
    report['runs'] = [{k: v for k, v in run.items() if k not in ('phase',
                                                                'lr')}
                      for run in report['runs']]
    path = tmp_path / 'old.json'
    path.write_text(json.dumps(report))
    text = redraw(str(path))
    assert '| protune | – | – | 64.0 ± 4.0 | 60.0 / 64.0 / 68.0 |' in text
    assert 'Selection (' not in text
    assert (tmp_path / 'transfer.png').is_file()


def test_tracks_defaults_and_configs():
    settings = transfer.transfer_settings()
    assert (settings.backbone, settings.task, settings.out_dir) == (
        'resnet18', 'seg', 'work_dirs/transfer')
    assert settings.methods == ['full', 'head-only', 'protune', 'bitfit',
                                'lora', 'conv-adapter', 'mona']
    settings = transfer.transfer_settings(backbone='swin')
    assert settings.out_dir == 'work_dirs/transfer-swin'
    assert settings.methods == ['full', 'head-only', 'protune', 'bitfit',
                                'lora', 'adaptformer', 'vpt', 'mona']
    # the classification task: the same methods and source per backbone,
    # its own folder, configs and splits (larger: see TASKS)
    for backbone in transfer.BACKBONES:
        seg = transfer.transfer_settings(backbone=backbone)
        cls = transfer.transfer_settings(backbone=backbone, task='cls')
        assert cls.out_dir == f'{seg.out_dir}-cls'
        assert (cls.methods, cls.pretrain, cls.seeds) == (
            seg.methods, seg.pretrain, seg.seeds)
        for settings, task in ((seg, 'seg'), (cls, 'cls')):
            splits = transfer.TASKS[task]['splits'][backbone]
            assert settings.iters == dict(
                zip(splits['train_sizes'], splits['iters']))
    assert transfer.transfer_settings(task='cls').iters == {
        500: 1000, 4000: 1000}
    # every method, track and task: the same lr grid and selection split
    for settings in (transfer.transfer_settings(),
                     transfer.transfer_settings(backbone='swin', task='cls')):
        assert settings.lr_grid == [3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1]
        assert settings.num_select == 500
    assert transfer.transfer_settings(task='cls').pool_size == 8000
    assert transfer.transfer_settings(quick=True).lr_grid == [1e-3, 1e-2]
    assert transfer.transfer_settings().iters == {50: 500, 500: 1000}
    stems, configs, missing = set(), set(), set()
    for backbone in transfer.BACKBONES:
        for task in transfer.TASKS:
            for method in transfer.backbone_methods(backbone, task):
                config = transfer.config_path(method, backbone, task)
                configs.add(config)
                if not os.path.isfile(config):
                    missing.add(os.path.basename(config))
        stems.add(transfer.BACKBONES[backbone]['checkpoint_stem'])
    assert len(stems) == len(transfer.BACKBONES)
    assert len(configs) == sum(
        len(transfer.backbone_methods(b, t)) for b in transfer.BACKBONES
        for t in transfer.TASKS)
    # the design-study variants: segmentation only, opt in
    for backbone in transfer.BACKBONES:
        assert {f'protune-{v}' for v in transfer.DESIGN_VARIANTS} <= set(
            transfer.backbone_methods(backbone, 'seg')) - set(
                transfer.default_methods(backbone, 'seg'))
        assert 'protune-block' not in transfer.backbone_methods(
            backbone, 'cls')
    # every listed config exists, and no config of the folder is left out
    assert not missing, missing
    assert configs == {
        os.path.join(transfer.CONFIG_DIR, name)
        for name in os.listdir(transfer.CONFIG_DIR) if name.endswith('.py')
    }


def test_one_vocabulary_with_the_cost_report():
    """The benchmark's methods are the cost report's (its derived methods and
    the PEFT baselines' ``method_name``), plus training from scratch and
    Pro-tuning's design-study variants (``protune-<variant>``)."""
    from mmprotune.analysis.benchmark import METHODS, peft_methods
    variants = {m for m in transfer.METHODS if m.startswith('protune-')}
    assert variants == {f'protune-{v}' for v in transfer.DESIGN_VARIANTS}
    assert set(transfer.METHODS) - {'scratch'} - variants <= \
        set(METHODS) | set(peft_methods())


@pytest.mark.parametrize('task', list(transfer.TASKS))
@pytest.mark.parametrize('method', ['full', 'vpt'])
def test_swin_track_learning_rates(tmp_path, method, task):
    """The Swin's own weights at 0.1x the lr, everything new at the lr: the
    config's 1e-2, and a grid's value set by ``run_config``."""
    from mmengine.optim import build_optim_wrapper
    config = transfer.config_path(method, 'swin', task)
    configs = {1e-2: Config.fromfile(config)}
    configs[3e-3] = transfer.run_config(config, str(tmp_path), 'unused',
                                        3e-3, [0], None, 0, 4,
                                        str(tmp_path / 'run'))
    for base, cfg in configs.items():
        model = build_model(cfg)
        optimizer = build_optim_wrapper(model, cfg.optim_wrapper)
        lr = {id(p): g['lr'] for g in optimizer.param_groups
              for p in g['params']}
        for name, param in model.named_parameters():
            if not param.requires_grad:
                continue
            own = name.startswith('backbone.') and \
                not name.startswith('backbone.prompts.')
            assert lr[id(param)] == pytest.approx(
                base / 10 if own else base), name


def test_iterations_per_split():
    settings = transfer.transfer_settings
    assert settings(train_sizes=[50, 500], iters=[300, 900]).iters == {
        50: 300, 500: 900}
    assert settings(train_sizes=[50, 500], iters=[300]).iters == {
        50: 300, 500: 300}
    assert settings().iters == {50: 500, 500: 1000}
    assert settings(backbone='swin').iters == {50: 500}
    assert settings(train_sizes=[500]).iters == {500: 1000}
    with pytest.raises(ValueError, match='no shipped iterations for '
                       '--train-sizes 100'):
        settings(train_sizes=[100])


def test_seeds_draw_the_training_images():
    settings = transfer.transfer_settings()
    assert (settings.num_select, settings.pool_size) == (500, 1000)
    draws = {seed: transfer.train_indices(settings, 50, seed)
             for seed in range(3)}
    for images in draws.values():
        # after the 500 selection images, within the pool of 1000
        assert len(set(images)) == 50
        assert 500 <= min(images) and max(images) < 1500
    assert len({tuple(images) for images in draws.values()}) == 3
    assert transfer.train_indices(settings, 50, 1) == draws[1]
    # spread over the whole pool, not its first images
    assert max(transfer.train_indices(settings, 500, 0)) > 1000
    # a run of the small split alone: the same pool, the same images (its
    # records serve the full study)
    small = transfer.transfer_settings(train_sizes=[50])
    assert small.pool_size == 1000
    assert transfer.train_indices(small, 50, 1) == draws[1]


def test_chosen_lr_at_the_grid_edge():
    """Inside the grid: no flag; at its largest or smallest lr: flagged;
    a method tried at one lr (with two multipliers): no grid, no flag."""
    runs = (_runs_of('lora', 'select', 1e-3, [40]) +
            _runs_of('lora', 'select', 3e-3, [45]) +
            _runs_of('lora', 'select', 1e-2, [41]) +
            _runs_of('mona', 'select', 1e-3, [20]) +
            _runs_of('mona', 'select', 3e-3, [21]) +
            _runs_of('mona', 'select', 1e-2, [30]) +
            _runs_of('full', 'select', 1e-3, [50], backbone_lr_mult=1.) +
            _runs_of('full', 'select', 1e-3, [40], backbone_lr_mult=0.1))
    choices = selection(runs)[50]
    assert [choices[m]['lr_at_edge'] for m in ('lora', 'mona', 'full')] == \
        [None, 'top', None]
    text = markdown(runs, iters={50: 100})
    assert 'grid (the best may lie outside it; widen --lr-grid): ' \
        'mona (top).' in text


def test_choose_setting():
    choose = transfer.choose_setting
    assert choose({(1e-2, None): 50., (1e-3, None): 60.,
                   (3e-3, None): 55.}) == (1e-3, None)
    assert choose({(1e-2, None): 60., (1e-3, None): 60.,
                   (3e-3, None): 55.}) == (1e-3, None)
    # lr and multiplier jointly; of equal scores the smaller lr, then mult
    assert choose({(1e-3, 1.): 50., (1e-3, 0.1): 52., (1e-2, 1.): 51.,
                   (1e-2, 0.1): 49.}) == (1e-3, 0.1)
    assert choose({(1e-3, 1.): 50., (1e-2, 0.1): 50., (1e-3, 0.1): 50.
                   }) == (1e-3, 0.1)


def test_backbone_lr_mult_reaches_the_optimizer(tmp_path):
    """A full fine-tuning run's backbone trains at lr x the multiplier, its
    head at the lr, in the param groups of the optimizer the Runner builds
    from the run's config; Pro-tuning's prompts are not slowed. Which
    methods get the multiplier is read from what they train: only full
    fine-tuning trains pretrained (checkpoint) weights."""
    from mmengine.optim import build_optim_wrapper
    checkpoint = str(tmp_path / 'source.pth')
    for backbone in transfer.BACKBONES:
        full = transfer.config_path('full', backbone)
        torch.save(dict(state_dict=_build(full).backbone.state_dict()),
                   checkpoint)
        for method in transfer.default_methods(backbone) + ['scratch']:
            trains = transfer.pretrained_trainable(
                transfer.config_path(method, backbone), checkpoint)
            assert bool(trains) == (method == 'full'), method
        settings = transfer.transfer_settings(
            backbone=backbone, methods=['full', 'protune'],
            backbone_lr_mults=[1, 0.1], lr_grid=[1e-3, 1e-2])
        assert transfer.settings_grid(settings, checkpoint, 'full') == [
            (1e-3, 1.), (1e-3, 0.1), (1e-2, 1.), (1e-2, 0.1)]
        assert transfer.settings_grid(settings, checkpoint, 'protune') == [
            (1e-3, None), (1e-2, None)]
        for method in ('full', 'protune'):
            cfg = transfer.run_config(
                transfer.config_path(method, backbone), str(tmp_path),
                checkpoint, 3e-3, [0], [1], 0, 4, str(tmp_path / 'run'),
                backbone_lr_mult=0.25)
            model = build_model(cfg)
            optimizer = build_optim_wrapper(model, cfg.optim_wrapper)
            lr = {id(p): g['lr'] for g in optimizer.param_groups
                  for p in g['params']}
            slowed = []
            for name, param in model.named_parameters():
                if param.requires_grad:
                    own = name.startswith('backbone.') and \
                        not name.startswith('backbone.prompts.')
                    assert lr[id(param)] == pytest.approx(
                        3e-3 * 0.25 if own else 3e-3), name
                    slowed.append(own)
            assert any(slowed) == (method == 'full')
            assert not all(slowed)  # the head (and prompts) at the lr


@pytest.mark.parametrize('kwargs,message', [
    (dict(lr_grid=[1e-3, 1e-3]),
     '--lr-grid: expected distinct positive values, got 0.001,0.001'),
    (dict(lr_grid=[0, 1e-2]),
     '--lr-grid: expected distinct positive values, got 0,0.01'),
    (dict(backbone_lr_mults=[1, -0.1]),
     '--backbone-lr-mults: expected distinct positive values, got 1,-0.1'),
    (dict(train_sizes=[50], pool_size=40),
     r'--train-sizes: 50 images exceed the training pool \(--pool-size 40\)'),
])
def test_bad_protocol_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        transfer.transfer_settings(**kwargs)


def test_iterations_must_match_the_splits(tmp_path):
    proc = _run('--train-sizes', '50,500', '--iters', '1,2,3', '--out-dir',
                str(tmp_path / 'out'), cwd=tmp_path)
    assert proc.returncode == 2
    assert '--iters: expected 1 or 2 values (one per --train-sizes 50,500)' \
        ', got 1,2,3' in proc.stderr


VARIANTS = ', protune-block, protune-ms, protune-output, protune-scale, ' \
    'protune-wide'
RESNET_METHODS = 'full, head-only, protune, bitfit, lora, conv-adapter, ' \
    'mona, scratch' + VARIANTS
SWIN_METHODS = 'full, head-only, protune, bitfit, lora, adaptformer, vpt, ' \
    'mona, scratch' + VARIANTS


@pytest.mark.parametrize('args,allowed,hint', [
    (('--methods', 'full,foo'), RESNET_METHODS, None),
    (('--methods', 'Protune'), RESNET_METHODS, None),
    (('--methods', ''), RESNET_METHODS, None),
    (('--methods', 'adaptformer'), RESNET_METHODS,
     "['adaptformer'] for --backbone resnet18 --task seg (adaptformer: "
     '--backbone swin)'),
    (('--backbone', 'swin', '--methods', 'full,conv-adapter'), SWIN_METHODS,
     "['conv-adapter'] for --backbone swin --task seg (conv-adapter: "
     '--backbone resnet18)'),
    # an old spelling is the method's name
    (('--backbone', 'swin', '--methods', 'finetune,convadapter'),
     SWIN_METHODS, "['conv-adapter'] for --backbone swin --task seg "
     '(conv-adapter: --backbone resnet18)'),
    # a design-study variant: segmentation only
    (('--task', 'cls', '--methods', 'protune,protune-output'),
     RESNET_METHODS.replace(VARIANTS, ''),
     "['protune-output'] for --backbone resnet18 --task cls (protune-output: "
     '--backbone resnet18/swin --task seg)'),
])
def test_unknown_method_lists_allowed(tmp_path, args, allowed, hint):
    proc = _run(*args, '--out-dir', str(tmp_path / 'out'), cwd=tmp_path)
    assert proc.returncode == 2
    assert 'unknown method(s)' in proc.stderr
    assert f'allowed: {allowed}' in proc.stderr
    if hint:
        assert hint in proc.stderr
    assert not (tmp_path / 'out').exists()


def _counts(stdout: str) -> tuple:
    """(trained, from records) of the run's summary line."""
    import re
    found = re.search(r'runs \((\d+) trained, (\d+) from records\)', stdout)
    assert found, stdout[-3000:]
    return int(found.group(1)), int(found.group(2))


def _images(cfg: Config, loader: str) -> list:
    """The image files the dataset of ``cfg``'s ``loader`` (e.g.
    ``'train_dataloader'``) reads, built the way the Runner builds it (in
    mmseg's scope for this build only: no default scope is left set)."""
    from mmseg.registry import DATASETS
    dataset = DATASETS.build(
        dict(cfg[loader].dataset, pipeline=[], _scope_='mmseg'))
    return [dataset.get_data_info(i)['img_path']
            for i in range(len(dataset))]


def _record_runs(folder: Path) -> list:
    """The ``run`` of every record file in ``folder``."""
    return [json.loads(p.read_text())['run'] for p in folder.glob('*.json')]


def test_protocol_end_to_end(tmp_path):
    """The protocol in a reduced setting (2 lrs, 2 seeds, 4 iterations):
    the files the runs read keep the selection, training and test images
    apart; a selection run's curve has a point per iteration (4 < 5
    points), the last its score; the lr the test runs trained at is the
    best selection score's; a rerun trains nothing, also from another
    machine's records, and ``--select-only`` runs no test phase; the
    tables and plots drawn again from the JSON are those of the run."""
    out = tmp_path / 'out'
    args = ('--quick', '--methods', 'head-only,protune', '--seeds', '2')
    proc = _run(*args, '--out-dir', str(out), cwd=tmp_path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    assert _counts(proc.stdout) == (8, 0)  # per method 2 lrs + 2 seeds

    # what each run read: its config as the Runner dumped it
    used = {}
    for work_dir in (out / 'runs').iterdir():
        cfg = Config.fromfile(next(work_dir.glob('*.py')))
        select = '_select_' in work_dir.name  # evaluated while training
        used[work_dir.name] = dict(
            train=set(_images(cfg, 'train_dataloader')),
            eval=set(_images(cfg, 'val_dataloader' if select else
                             'test_dataloader')),
            lr=cfg.optim_wrapper.optimizer.lr)
        assert (cfg.val_dataloader is not None) == select
    select = {n: u for n, u in used.items() if '_select_' in n}
    test = {n: u for n, u in used.items() if '_test_' in n}
    assert (len(select), len(test)) == (4, 4)
    selection_images = {frozenset(u['eval']) for u in select.values()}
    assert len(selection_images) == 1  # one fixed block
    selection_images = set(selection_images.pop())
    test_images = {frozenset(u['eval']) for u in test.values()}
    assert len(test_images) == 1
    test_images = set(test_images.pop())
    assert len(selection_images) == len(test_images) == 8
    assert all('/training/' in f for f in selection_images)
    assert all('/validation/' in f for f in test_images)
    for u in used.values():
        assert len(u['train']) == 8
        assert not u['train'] & selection_images
        assert not u['train'] & test_images
    # a seed draws the training images; the methods pair up on them
    by_seed = {seed: {frozenset(u['train']) for n, u in test.items()
                      if n.endswith(f'_seed{seed}')} for seed in (0, 1)}
    assert all(len(images) == 1 for images in by_seed.values())
    assert by_seed[0] != by_seed[1]

    # the chosen lr: the best selection score among the recorded runs
    report = json.loads((out / 'transfer.json').read_text())
    runs = _record_runs(out / 'records')
    assert len(runs) == 8
    for method in ('head-only', 'protune'):
        scores = {r['lr']: r['mIoU'] for r in runs
                  if r['method'] == method and r['phase'] == 'select'}
        assert sorted(scores) == [1e-3, 1e-2]
        best = max(scores.values())
        chosen = min(lr for lr, v in scores.items() if v == best)
        choice = report['selection']['8'][method]
        assert choice['lr'] == chosen
        assert choice['scores'] == {f'{lr:g}': v for lr, v in scores.items()}
        assert {u['lr'] for n, u in test.items()
                if n.startswith(f'n8_{method}_')} == {chosen}
        assert f'| {method} | {chosen:g} | – | ' in proc.stdout
        # each selection run's curve: its validations at iterations 1..4,
        # the last one its score; the chosen run's in the report
        for run in (r for r in runs if r['method'] == method):
            if run['phase'] == 'select':
                assert [p['iter'] for p in run['curve']] == [1, 2, 3, 4]
                assert run['curve'][-1]['mIoU'] == run['mIoU']
                assert set(run['curve'][0]) == {'iter', 'mIoU', 'aAcc',
                                                'mAcc'}
                if run['lr'] == chosen:
                    assert choice['curve'] == [[p['iter'], p['mIoU']]
                                               for p in run['curve']]
            else:
                assert 'curve' not in run
            assert run['peak_train_bytes'] > 0

    # the tables and the three plots drawn again from the JSON alone: the
    # tables those printed
    plots = ('transfer.png', 'transfer_curves.png', 'transfer_pareto.png')
    for name in plots:
        (out / name).unlink()
    redraw = _run('--from-json', str(out / 'transfer.json'), cwd=tmp_path)
    assert redraw.returncode == 0, (redraw.stdout + redraw.stderr)[-5000:]
    assert proc.stdout.endswith(redraw.stdout)
    for name in plots:
        assert (out / name).read_bytes()[:8] == PNG
    assert 'Selection (mIoU in % on the selection split' in redraw.stdout
    tables = proc.stdout[proc.stdout.index('**8 training images'):]

    # a rerun trains nothing and prints the same tables
    rerun = _run(*args, '--out-dir', str(out), cwd=tmp_path)
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-5000:]
    assert _counts(rerun.stdout) == (0, 8)
    assert 'n8_protune_select_lr0.001_seed0: recorded' in rerun.stdout
    assert rerun.stdout.endswith(tables)
    # another machine: a fresh out dir, the first one's records reused
    second = tmp_path / 'second'
    proc = _run(*args, '--out-dir', str(second), '--reuse-records',
                str(out / 'records'), cwd=tmp_path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    assert _counts(proc.stdout) == (0, 8)
    assert not (second / 'runs').exists()
    # the selection phase only (in the first out dir, its records): the 4
    # selection runs, no test run; its tables and curves drawn again from
    # its JSON (the other plots of the first run removed)
    proc = _run(*args, '--select-only', '--out-dir', str(out), cwd=tmp_path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    assert _counts(proc.stdout) == (0, 4)
    report = json.loads((out / 'transfer.json').read_text())
    assert {r['phase'] for r in report['runs']} == {'select'}
    assert report['summary'] == {} and report['complete']
    assert '_test_' not in proc.stdout
    assert '**8 training images, 4 iterations** (selection only: no test ' \
        'runs)' in proc.stdout
    assert 'mIoU on 8 selection images (selection only: no test runs);' \
        in proc.stdout
    assert 'test images' not in proc.stdout
    redraw = _run('--from-json', str(out / 'transfer.json'), cwd=tmp_path)
    assert proc.stdout.endswith(redraw.stdout)
    assert sorted(p.name for p in out.glob('*.png')) == [
        'transfer_curves.png']


def test_reuse_records_must_exist(tmp_path):
    proc = _run('--quick', '--reuse-records', str(tmp_path / 'missing'),
                '--out-dir', str(tmp_path / 'out'), cwd=tmp_path)
    assert proc.returncode == 2
    assert f'--reuse-records: no such folder: {tmp_path / "missing"}' in \
        proc.stderr
    assert not (tmp_path / 'out').exists()
