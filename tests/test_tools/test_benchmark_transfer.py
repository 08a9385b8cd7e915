"""``tools/benchmark_transfer.py`` and :mod:`mmprotune.analysis.transfer`:
a reduced run end to end through the command for each task and backbone
track (pretraining, data, Runner training and test per method, markdown,
JSON, plot, a rerun from the records), its parameter counts against an
independent count, the seed statistics, the tracks' defaults, and the
command's errors for an unknown method or mismatched iterations."""
import json
import os
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from mmprotune.analysis import transfer
from mmprotune.analysis.transfer_report import (markdown, summarize,
                                                write_report)
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
    task, backbone, methods = TRACKS[track]
    key, shape = SOURCE_TENSOR[backbone]
    out_dir = tmp_path / 'out'
    args = ('--quick', '--task', task, '--backbone', backbone, '--methods',
            ','.join(methods), '--out-dir', str(out_dir))
    proc = _run(*args, cwd=tmp_path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    out = proc.stdout
    label = transfer.TASKS[task]['metric_label']
    assert '**8 training images, 4 iterations** ' \
        f'({label} in %, mean ± sample std over seeds)' in out
    assert f'| method | {label} | seeds |' in out
    assert f'; {label} on 8 validation images' in out
    for method in methods:
        assert f'| {method} | ' in out

    report = json.loads((out_dir / 'transfer.json').read_text())
    assert report['settings']['methods'] == list(methods)
    assert report['settings']['backbone'] == backbone
    assert report['settings']['task'] == task
    assert report['metric'] == transfer.TASKS[task]['metric']
    assert report['settings']['seeds'] == 1
    assert report['source']['summary'].startswith('final train loss')
    assert [(r['method'], r['seed']) for r in report['runs']] == [
        (m, 0) for m in methods
    ]
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
    assert f'| method | {label} | seeds |' in redraw.stdout
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
    if task == 'seg':  # a segmentation rerun: test_rerun_skips_recorded_runs
        return
    # a rerun trains nothing: every run is recorded (in the track's own
    # files), and it prints the same tables
    rerun = _run(*args, cwd=tmp_path)
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-5000:]
    assert _counts(rerun.stdout) == (0, len(methods))
    tables = out[out.index('**8 training images'):]
    assert rerun.stdout.endswith(tables)


def test_summary_mean_and_sample_std():
    runs = [
        dict(train_size=50, method=method, seed=seed, mIoU=miou + offset,
             step_s=0.1 * (seed + 1), trainable_params=10,
             backbone_trainable_params=4, saved_bytes=2**20,
             checkpoint_bytes=2**20)
        for method, offset in (('head-only', -10), ('protune', 0))
        for seed, miou in enumerate((60, 64, 68))
    ]
    table = summarize(runs)
    s = table[50]['protune']
    assert s['mean'] == 64 and s['std'] == 4
    assert s['seeds'] == [60, 64, 68] and s['step_s'] == 0.2
    text = markdown(table, iters={50: 100})
    assert '**50 training images, 100 iterations** (mIoU in %' in text
    assert '| protune | 64.0 ± 4.0 | 60.0 / 64.0 / 68.0 | +10.0 | 10 (4) | ' \
        '200 ms | 1.0 MiB | 1.00 MiB |' in text
    # another task's metric, under its name
    runs = [dict(run, top1=run['mIoU'] + 1) for run in runs]
    table = summarize(runs, 'top1')
    assert table[50]['protune']['seeds'] == [61, 65, 69]
    text = markdown(table, iters={50: 100}, metric_label='top-1 accuracy')
    assert '(top-1 accuracy in %' in text and '| top-1 accuracy |' in text
    assert '| protune | 65.0 ± 4.0 | 61.0 / 65.0 / 69.0 | +10.0 |' in text


def test_report_holds_python_numbers(tmp_path):
    """Metrics arrive as numpy scalars (mmseg's IoUMetric gives np.float32
    under numpy 2): ``transfer.json`` is still written, with plain numbers,
    and no temporary file is left beside it."""
    import numpy as np
    settings = transfer.transfer_settings(quick=True, out_dir=str(tmp_path))
    runs = [
        dict(train_size=8, method='protune', seed=seed,
             mIoU=np.float32(50.25 + seed), step_s=np.float64(0.5),
             trainable_params=np.int64(10), backbone_trainable_params=4,
             saved_bytes=2**20, checkpoint_bytes=2**20,
             loss_curve=np.array([0.5, 0.25], dtype=np.float32))
        for seed in range(2)
    ]
    write_report(settings, dict(summary='stand-in source'), runs,
                 total_s=np.float32(3.0), complete=True)
    report = json.loads((tmp_path / 'transfer.json').read_text())
    assert [r['mIoU'] for r in report['runs']] == [50.25, 51.25]
    assert report['runs'][0]['loss_curve'] == [0.5, 0.25]
    assert report['summary']['8']['protune']['mean'] == 50.75
    assert report['summary']['8']['protune']['trainable_params'] == 10
    assert os.listdir(tmp_path) == ['transfer.json']


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
def test_swin_track_learning_rates(method, task):
    """The Swin's own weights at 0.1x the lr, everything new at the lr."""
    from mmengine.optim import build_optim_wrapper
    config = transfer.config_path(method, 'swin', task)
    model = _build(config)
    optimizer = build_optim_wrapper(model,
                                    Config.fromfile(config).optim_wrapper)
    lr = {id(p): g['lr'] for g in optimizer.param_groups for p in g['params']}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        own = name.startswith('backbone.') and \
            not name.startswith('backbone.prompts.')
        assert lr[id(param)] == pytest.approx(1e-3 if own else 1e-2), name


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


def test_rerun_skips_recorded_runs(tmp_path):
    """A run is recorded as it finishes; a rerun trains only what is not
    recorded under the same settings, also from another machine's records
    (here: another out dir's, as if committed under docs/)."""
    first = tmp_path / 'first'
    args = ('--quick', '--methods', 'head-only')
    proc = _run(*args, '--out-dir', str(first), cwd=tmp_path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    assert _counts(proc.stdout) == (1, 0)
    records = list((first / 'records').glob('*.json'))
    assert len(records) == 1
    record = json.loads(records[0].read_text())
    assert record['key']['method'] == 'head-only'
    assert record['key']['iters'] == 4 and record['key']['seed'] == 0
    report = json.loads((first / 'transfer.json').read_text())

    proc = _run(*args, '--out-dir', str(first), cwd=tmp_path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    assert _counts(proc.stdout) == (0, 1)
    assert 'n8_head-only_seed0: recorded' in proc.stdout
    rerun = json.loads((first / 'transfer.json').read_text())
    assert rerun['runs'][0]['mIoU'] == report['runs'][0]['mIoU']
    assert rerun['runs'][0]['reused'] and not report['runs'][0]['reused']
    assert rerun['runs'][0]['machine'] == record['machine']

    # a changed setting is not skipped
    proc = _run(*args, '--iters', '5', '--out-dir', str(first),
                cwd=tmp_path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    assert _counts(proc.stdout) == (1, 0)
    assert len(list((first / 'records').glob('*.json'))) == 2

    # another machine: a fresh out dir, the first one's records reused
    proc = _run(*args, '--out-dir', str(tmp_path / 'second'),
                '--reuse-records', str(first / 'records'), cwd=tmp_path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    assert _counts(proc.stdout) == (0, 1)
    assert not (tmp_path / 'second' / 'runs').exists()


def test_reuse_records_must_exist(tmp_path):
    proc = _run('--quick', '--reuse-records', str(tmp_path / 'missing'),
                '--out-dir', str(tmp_path / 'out'), cwd=tmp_path)
    assert proc.returncode == 2
    assert f'--reuse-records: no such folder: {tmp_path / "missing"}' in \
        proc.stderr
    assert not (tmp_path / 'out').exists()
