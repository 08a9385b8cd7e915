"""``tools/benchmark_transfer.py`` and :mod:`mmprotune.analysis.transfer`:
the protocol end to end in a reduced setting (selection and test splits
disjoint in the files the runs read, the chosen lr the best selection
score, recorded runs skipped on a rerun, the tables redrawn from the
JSON); a reduced run through the command for each task and backbone track
(pretraining, data, Runner training and test per method, markdown, JSON,
plot), its parameter counts against an independent count, the seed
statistics and paired differences, the tracks' defaults, and the command's
errors for an unknown method, mismatched iterations or a bad lr grid."""
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
                     tuple(transfer.default_methods('resnet18'))),
    'swin-cls': ('cls', 'swin', tuple(transfer.default_methods('swin'))),
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
    assert f'| method | lr | {label} | seeds |' in out
    assert f'; {label} on 8 test images, lr 0.003 (no selection); ' \
        'training images drawn per seed from a pool of 16' in out
    assert 'Selection (' not in out  # nothing to choose from
    for method in methods:
        assert f'| {method} | 0.003 | ' in out

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
    # a frozen backbone's per-task checkpoint is a delta: far smaller
    assert summary['protune']['checkpoint_bytes'] < \
        summary['full']['checkpoint_bytes'] / 5
    assert (out_dir / 'transfer.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    # the tables and the plot drawn again from the JSON alone, without
    # training: the same text as the run printed
    (out_dir / 'transfer.png').unlink()
    redraw = _run('--from-json', str(out_dir / 'transfer.json'),
                  cwd=tmp_path)
    assert redraw.returncode == 0, (redraw.stdout + redraw.stderr)[-5000:]
    assert f'| method | lr | {label} | seeds |' in redraw.stdout
    assert out.endswith(redraw.stdout)
    assert f'{len(methods)} runs ({len(methods)} trained, 0 from records)' \
        in redraw.stdout
    assert (out_dir / 'transfer.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
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
    records = sorted(p.name for p in (out_dir / 'records').glob('*.json'))
    assert len(records) == len(methods)
    assert all(name.startswith(f'{track}_n8_') for name in records)
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
    return [dict(train_size=50, method=method, phase=phase, lr=lr,
                 seed=seed, mIoU=value, step_s=0.1 * (seed + 1),
                 trainable_params=10, backbone_trainable_params=4,
                 saved_bytes=2**20, checkpoint_bytes=2**20, **figures)
            for seed, value in enumerate(values)]


def test_summary_selection_and_paired_differences():
    runs = (_runs_of('head-only', 'select', 1e-3, [30]) +
            _runs_of('head-only', 'select', 1e-2, [30]) +  # a tie
            _runs_of('head-only', 'test', 1e-3, [52, 53, 57]) +
            _runs_of('protune', 'select', 1e-3, [40]) +
            _runs_of('protune', 'select', 1e-2, [45]) +
            _runs_of('protune', 'test', 1e-2, [60, 64, 68]))
    table = summarize(runs)  # the test runs only
    s = table[50]['protune']
    assert s['mean'] == 64 and s['std'] == 4 and s['lr'] == 1e-2
    assert s['seeds'] == [60, 64, 68] and s['step_s'] == 0.2
    assert table[50]['head-only']['mean'] == 54
    choices = selection(runs)
    assert choices[50]['protune'] == dict(scores={'0.001': 40, '0.01': 45},
                                          lr=1e-2)
    assert choices[50]['head-only']['lr'] == 1e-3  # of equal: the smaller
    # seed by seed: 60-52, 64-53, 68-57
    diff = paired(runs)[50]['head-only']
    assert diff['diffs'] == [8, 11, 11] and diff['mean'] == 10
    assert diff['std'] == pytest.approx(3**0.5)
    assert 'protune' not in paired(runs)[50]
    text = markdown(runs, iters={50: 100})
    assert '**50 training images, 100 iterations** (mIoU in % on the test ' \
        'split, mean ± sample std over seeds; lr chosen on the selection ' \
        'split)' in text
    assert '| protune | 0.01 | 64.0 ± 4.0 | 60.0 / 64.0 / 68.0 | +10.0 | – ' \
        '| 10 (4) | 200 ms | 1.0 MiB | 1.00 MiB |' in text
    assert '| head-only | 0.001 | 54.0 ± 2.6 | 52.0 / 53.0 / 57.0 | +0.0 | ' \
        '+10.0 ± 1.7 |' in text
    assert '| method | lr 0.001 | lr 0.01 |' in text
    assert '| head-only | **30.0** | 30.0 |' in text
    assert '| protune | 40.0 | **45.0** |' in text
    # another task's metric, under its name
    runs = [dict(run, top1=run['mIoU'] + 1) for run in runs]
    assert summarize(runs, 'top1')[50]['protune']['seeds'] == [61, 65, 69]
    text = markdown(runs, iters={50: 100}, metric='top1',
                    metric_label='top-1 accuracy')
    assert '(top-1 accuracy in %' in text and '| top-1 accuracy |' in text
    assert '| protune | 0.01 | 65.0 ± 4.0 | 61.0 / 65.0 / 69.0 | +10.0 |' \
        in text


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
    assert '| protune | – | 64.0 ± 4.0 | 60.0 / 64.0 / 68.0 |' in text
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
        assert settings.lr_grid == [3e-4, 1e-3, 3e-3, 1e-2]
        assert settings.num_select == 500
    assert transfer.transfer_settings(task='cls').pool_size == 8000
    assert transfer.transfer_settings(quick=True).lr_grid == [1e-3, 1e-2]
    assert transfer.transfer_settings().iters == {50: 500, 500: 1000}
    stems, configs = set(), set()
    for backbone in transfer.BACKBONES:
        for task in transfer.TASKS:
            for method in transfer.backbone_methods(backbone):
                configs.add(transfer.config_path(method, backbone, task))
                assert os.path.isfile(transfer.config_path(
                    method, backbone, task))
        stems.add(transfer.BACKBONES[backbone]['checkpoint_stem'])
    assert len(stems) == len(transfer.BACKBONES)
    assert len(configs) == len(transfer.TASKS) * sum(
        len(transfer.backbone_methods(b)) for b in transfer.BACKBONES)
    # and no config of the folder is left out
    assert configs == {
        os.path.join(transfer.CONFIG_DIR, name)
        for name in os.listdir(transfer.CONFIG_DIR) if name.endswith('.py')
    }


def test_one_vocabulary_with_the_cost_report():
    """The benchmark's methods are the cost report's (its derived methods and
    the PEFT baselines' ``method_name``), plus training from scratch."""
    from mmprotune.analysis.benchmark import METHODS, peft_methods
    assert set(transfer.METHODS) - {'scratch'} <= \
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


def test_choose_lr():
    assert transfer.choose_lr({1e-2: 50., 1e-3: 60., 3e-3: 55.}) == 1e-3
    assert transfer.choose_lr({1e-2: 60., 1e-3: 60., 3e-3: 55.}) == 1e-3


@pytest.mark.parametrize('kwargs,message', [
    (dict(lr_grid=[1e-3, 1e-3]),
     '--lr-grid: expected distinct positive values, got 0.001,0.001'),
    (dict(lr_grid=[0, 1e-2]),
     '--lr-grid: expected distinct positive values, got 0,0.01'),
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


RESNET_METHODS = 'full, head-only, protune, bitfit, lora, conv-adapter, ' \
    'mona, scratch'
SWIN_METHODS = 'full, head-only, protune, bitfit, lora, adaptformer, vpt, ' \
    'mona, scratch'


@pytest.mark.parametrize('args,allowed,hint', [
    (('--methods', 'full,foo'), RESNET_METHODS, None),
    (('--methods', 'Protune'), RESNET_METHODS, None),
    (('--methods', ''), RESNET_METHODS, None),
    (('--methods', 'adaptformer'), RESNET_METHODS,
     "['adaptformer'] for --backbone resnet18 (adaptformer: --backbone "
     'swin)'),
    (('--backbone', 'swin', '--methods', 'full,conv-adapter'), SWIN_METHODS,
     "['conv-adapter'] for --backbone swin (conv-adapter: --backbone "
     'resnet18)'),
    # an old spelling is the method's name
    (('--backbone', 'swin', '--methods', 'finetune,convadapter'),
     SWIN_METHODS, "['conv-adapter'] for --backbone swin (conv-adapter: "
     '--backbone resnet18)'),
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
    apart; the lr the test runs trained at is the best selection score's;
    a rerun trains nothing, also from another machine's records; the
    tables drawn again from the JSON are those printed."""
    out = tmp_path / 'out'
    args = ('--quick', '--methods', 'head-only,protune', '--seeds', '2')
    proc = _run(*args, '--out-dir', str(out), cwd=tmp_path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    assert _counts(proc.stdout) == (8, 0)  # per method 2 lrs + 2 seeds

    # what each run read: its config as the Runner dumped it
    used = {}
    for work_dir in (out / 'runs').iterdir():
        cfg = Config.fromfile(next(work_dir.glob('*.py')))
        used[work_dir.name] = dict(
            train=set(_images(cfg, 'train_dataloader')),
            eval=set(_images(cfg, 'test_dataloader')),
            lr=cfg.optim_wrapper.optimizer.lr)
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
        assert f'| {method} | {chosen:g} | ' in proc.stdout

    # the tables drawn again from the JSON alone: those printed
    redraw = _run('--from-json', str(out / 'transfer.json'), cwd=tmp_path)
    assert redraw.returncode == 0, (redraw.stdout + redraw.stderr)[-5000:]
    assert proc.stdout.endswith(redraw.stdout)
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


def test_reuse_records_must_exist(tmp_path):
    proc = _run('--quick', '--reuse-records', str(tmp_path / 'missing'),
                '--out-dir', str(tmp_path / 'out'), cwd=tmp_path)
    assert proc.returncode == 2
    assert f'--reuse-records: no such folder: {tmp_path / "missing"}' in \
        proc.stderr
    assert not (tmp_path / 'out').exists()
