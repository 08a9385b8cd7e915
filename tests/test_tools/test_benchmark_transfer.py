"""``tools/benchmark_transfer.py`` as a command: the protocol end to end in
a reduced setting (selection and test splits disjoint in the files the runs
read, the selection curves of the training loop's validations, the chosen lr
the best selection score, recorded runs skipped on a rerun,
``--select-only``, the tables and plots redrawn from the JSON); the CamVid
track on a tiny folder (its seeds, records, predictions and test splits); a
reduced run for each task and backbone track (pretraining, data, Runner
training and test per method, markdown, JSON, plots), its parameter counts
against an independent count; and the command's errors for an unknown
method, mismatched iterations or a missing records folder. The functions
behind it are tested in tests/test_analysis/test_transfer."""
import json
import os
import re
import shutil
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from mmprotune.analysis.transfer.catalog import (BACKBONES, TASKS,
                                                 backbone_methods, config_path,
                                                 default_methods)
from mmprotune.analysis.transfer.run import PREDICTED_IMAGES
from mmprotune.analysis.transfer.settings import transfer_settings
from mmprotune.analysis.transfer.source import source_key
from mmprotune.analysis.transfer.study import PREDICTIONS_FOLDER
from mmprotune.datasets import CamVidDataset
from mmprotune.testing import REPO_ROOT, TRANSFER_CONFIG_DIR, run_tool
from mmprotune.testing.camvid import make_camvid
from mmprotune.utils import build_model, file_sha256

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
                     tuple(default_methods('resnet18', 'cls'))),
    'swin-cls': ('cls', 'swin', tuple(default_methods('swin', 'cls'))),
}


def _run(*args, cwd):
    """Run the command, its stdout and stderr apart. The timeout only
    guards against a hang: the protocol test takes 5 minutes alone on a
    2-core CPU and twice that beside other work."""
    return run_tool(TOOL, *args, cwd=cwd, merge_stderr=False, timeout=1200)


@pytest.fixture
def refused(tool_main, capsys):
    """``refused(*args)``: the command's error message for ``args`` (its
    ``main`` in this process), exiting with argparse's status 2."""

    def run(*args) -> str:
        with pytest.raises(SystemExit) as exit_info:
            tool_main(TOOL, *args)
        assert exit_info.value.code == 2
        return capsys.readouterr().err

    return run


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


@pytest.mark.slow
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
    label = TASKS[task]['metric_label']
    assert '**8 training images, 4 iterations** ' \
        f'({label} in % on the test split, mean ± sample std over seeds; ' \
        'protune − it' in out
    assert f'| method | lr | backbone lr × | {label} | seeds |' in out
    assert f'; {label} on 8 test images, lr 0.003 (no selection); ' \
        'training images drawn per seed from a pool of 16' in out
    assert 'Selection (' not in out  # nothing to choose from
    for method in methods:
        # the quick multiplier grid is 1: applied to every method that
        # trains something inside the backbone
        mult = '–' if method in ('head-only', 'scratch') else '1'
        assert f'| {method} | 0.003 | {mult} | ' in out

    report = json.loads((out_dir / 'transfer.json').read_text())
    assert report['settings']['methods'] == list(methods)
    assert report['settings']['backbone'] == backbone
    assert report['settings']['task'] == task
    assert report['metric'] == TASKS[task]['metric']
    assert report['settings']['seeds'] == 1
    assert report['source']['summary'].startswith('final train loss')
    # the test seeds start after the selection runs' seed 0
    assert [(r['method'], r['phase'], r['lr'], r['seed'])
            for r in report['runs']] == [(m, 'test', 3e-3, 1)
                                         for m in methods]
    summary = report['summary']['8']
    for run in report['runs']:
        assert set(run) >= set(TASKS[task]['metrics'])
        s = summary[run['method']]
        assert s['seeds'] == [run[report['metric']]]
    for method in methods:
        s = summary[method]
        assert 0 <= s['mean'] <= 100 and s['std'] == 0
        assert s['step_s'] > 0 and s['saved_bytes'] > 0
        assert (s['trainable_params'], s['backbone_trainable_params']) == \
            _trainable(config_path(TRANSFER_CONFIG_DIR, method, backbone,
                                   task))
    assert [r['config'] for r in report['runs']] == [
        os.path.relpath(config_path(TRANSFER_CONFIG_DIR, m, backbone, task),
                        REPO_ROOT)
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
        BACKBONES[backbone]['checkpoint_stem'])
    state = torch.load(checkpoint, map_location='cpu')['state_dict']
    assert state[key].shape == shape
    assert set(state) == set(
        _build(config_path(TRANSFER_CONFIG_DIR, 'full', backbone,
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


def test_iterations_must_match_the_splits(tmp_path, refused):
    err = refused('--train-sizes', '50,500', '--iters', '1,2,3', '--out-dir',
                  tmp_path / 'out')
    assert '--iters: expected 1 or 2 values (one per --train-sizes 50,500)' \
        ', got 1,2,3' in err


RESNET_METHODS = ', '.join(backbone_methods('resnet18', 'seg'))
SWIN_METHODS = ', '.join(backbone_methods('swin', 'seg'))


@pytest.mark.parametrize('args,allowed,hint', [
    (('--methods', 'full,foo'), RESNET_METHODS, None),
    (('--methods', 'Protune'), RESNET_METHODS, None),
    (('--methods', ''), RESNET_METHODS, None),
    (('--methods', 'adaptformer'), RESNET_METHODS,
     "['adaptformer'] for --backbone resnet18 --task seg (adaptformer: "
     '--backbone swin --task seg/cls)'),
    (('--backbone', 'swin', '--methods', 'full,conv-adapter'), SWIN_METHODS,
     "['conv-adapter'] for --backbone swin --task seg (conv-adapter: "
     '--backbone resnet18 --task seg/cls, --backbone mobilenetv2 --task '
     'camvid/raccoon)'),
    # a design-study variant: segmentation only
    (('--task', 'cls', '--methods', 'protune,protune-output'),
     ', '.join(backbone_methods('resnet18', 'cls')),
     "['protune-output'] for --backbone resnet18 --task cls (protune-output: "
     '--backbone resnet18 --task seg, --backbone swin --task seg, '
     '--backbone mobilenetv2 --task camvid)'),
    (('--backbone', 'mobilenetv2', '--task', 'raccoon', '--methods',
      'protune-all'), ', '.join(backbone_methods('mobilenetv2', 'raccoon')),
     "['protune-all'] for --backbone mobilenetv2 --task raccoon "
     '(protune-all: --backbone mobilenetv2 --task camvid)'),
])
def test_unknown_method_lists_allowed(tmp_path, refused, args, allowed, hint):
    err = refused(*args, '--out-dir', tmp_path / 'out')
    assert 'unknown method(s)' in err
    assert f'allowed: {allowed}' in err
    if hint:
        assert hint in err
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


@pytest.mark.slow
def test_protocol_end_to_end(tmp_path):
    """The protocol in a reduced setting (2 lrs, 2 seeds, 4 iterations):
    the files the runs read keep the selection, training and test images
    apart; a selection run's curve has a point per iteration (4 < 5
    points), the last its score; the lr the test runs trained at is the
    best selection score's (the grid widened where that lies on its edge);
    test seeds 1 and 2, after the selection's 0; a rerun trains nothing,
    also from another machine's records, and ``--select-only`` runs no
    test phase; the tables and plots drawn again from the JSON are those of
    the run."""
    out = tmp_path / 'out'
    args = ('--quick', '--methods', 'head-only,protune', '--seeds', '2')
    proc = _run(*args, '--out-dir', str(out), cwd=tmp_path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    runs = _record_runs(out / 'records')
    num_select = sum(r['phase'] == 'select' for r in runs)
    # per method the 2 lrs (and any beyond an edge) + 2 seeds
    assert num_select >= 4
    assert _counts(proc.stdout) == (num_select + 4, 0) == (len(runs), 0)

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
    assert (len(select), len(test)) == (num_select, 4)
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
                      if n.endswith(f'_seed{seed}')} for seed in (1, 2)}
    assert all(len(images) == 1 for images in by_seed.values())
    assert by_seed[1] != by_seed[2]

    # the chosen lr: the best selection score among the recorded runs;
    # the quick multiplier grid (1) for the prompts, none for head-only
    report = json.loads((out / 'transfer.json').read_text())
    for method, mult in (('head-only', None), ('protune', 1.)):
        scores = {r['lr']: r['mIoU'] for r in runs
                  if r['method'] == method and r['phase'] == 'select'}
        assert {r['backbone_lr_mult'] for r in runs
                if r['method'] == method} == {mult}
        assert {1e-3, 1e-2} <= set(scores)
        best = max(scores.values())
        chosen = min(lr for lr, v in scores.items() if v == best)
        choice = report['selection']['8'][method]
        assert choice['lr'] == chosen
        suffix = '' if mult is None else 'x1'
        assert choice['scores'] == {f'{lr:g}{suffix}': v
                                    for lr, v in scores.items()}
        assert {u['lr'] for n, u in test.items()
                if n.startswith(f'n8_{method}_')} == {chosen}
        assert f'| {method} | {chosen:g} | {"–" if mult is None else 1} | ' \
            in proc.stdout
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
    assert _counts(rerun.stdout) == (0, len(runs))
    assert 'n8_protune_select_lr0.001x1_seed0: recorded' in rerun.stdout
    assert rerun.stdout.endswith(tables)
    # another machine: a fresh out dir, the first one's records reused
    second = tmp_path / 'second'
    proc = _run(*args, '--out-dir', str(second), '--reuse-records',
                str(out / 'records'), cwd=tmp_path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    assert _counts(proc.stdout) == (0, len(runs))
    assert not (second / 'runs').exists()
    # the selection phase only (in the first out dir, its records): the
    # selection runs, no test run; its tables and curves drawn again from
    # its JSON (the other plots of the first run removed)
    proc = _run(*args, '--select-only', '--out-dir', str(out), cwd=tmp_path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    assert _counts(proc.stdout) == (0, num_select)
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


def test_reuse_records_must_exist(tmp_path, refused):
    err = refused('--quick', '--reuse-records', tmp_path / 'missing',
                  '--out-dir', tmp_path / 'out')
    assert f'--reuse-records: no such folder: {tmp_path / "missing"}' in err
    assert not (tmp_path / 'out').exists()


#: A tiny CamVid folder: 12 training frames of 3 sequences (the first of
#: each a selection image), 3 val images; ``test`` added for the rerun.
CAMVID_NAMES = dict(
    train=[f'{seq}_{frame:05d}' for seq in ('0001TP', '0006R0', '0016E5')
           for frame in range(30, 150, 30)],
    val=['0016E5_07959', '0016E5_08640', '0016E5_08670'],
    test=['0001TP_008550', '0006R0_f02610'])


def _place_source(out_dir: Path, settings) -> None:
    """A random MobileNetV2 of the task's scope as the track's cached
    ImageNet source in ``out_dir``, with its sidecar: no download."""
    import importlib
    scope = settings.source['scope']
    stem = out_dir / f'{BACKBONES["mobilenetv2"]["checkpoint_stem"]}-{scope}'
    out_dir.mkdir(parents=True)
    backbones = importlib.import_module(f'{scope}.models.backbones')
    torch.save({'state_dict': backbones.MobileNetV2().state_dict()},
               f'{stem}.pth')
    stem.with_suffix('.json').write_text(json.dumps(dict(
        summary='a random MobileNetV2', settings=settings.source,
        key=source_key(settings.source),
        sha256=file_sha256(f'{stem}.pth'))))


def _progress(stdout: str) -> dict:
    """``{run name: taken from a record}`` of the progress lines."""
    return {name: bool(recorded) for name, recorded in re.findall(
        r'^(n\d+_\S+_seed\d+): (recorded)?', stdout, re.MULTILINE)}


@pytest.mark.slow
def test_camvid_end_to_end(tmp_path):
    """The CamVid track in a reduced setting on a tiny folder (a random
    source, no download), in one process: test seeds 1 and 2 apart from
    the selection's seed 0; records with the commit and the machine; the
    stopped workers of every finished run; per-class IoU and the
    first test seed's predictions, drawn into ``transfer_predictions.png``;
    selection keys without the test split, so testing on ``test`` reuses
    every selection run and trains only the test runs."""
    data = make_camvid(tmp_path / 'camvid', {
        split: names for split, names in CAMVID_NAMES.items()
        if split != 'test'})
    out = tmp_path / 'out'
    settings = transfer_settings(
        TRANSFER_CONFIG_DIR, backbone='mobilenetv2', data_root=str(data),
        quick=True, num_select=3, train_sizes=[4], iters=[2])
    _place_source(out, settings)
    methods = ('full', 'protune')
    args = ('--backbone', 'mobilenetv2', '--quick', '--num-select', '3',
            '--train-sizes', '4', '--iters', '2', '--lr-grid', '1e-3,1e-2',
            '--backbone-lr-mults', '1', '--seeds', '2', '--methods',
            ','.join(methods), '--out-dir', str(out))
    proc = _run(*args, '--data-root', str(data), cwd=tmp_path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    records = {p.name: json.loads(p.read_text())
               for p in (out / 'records').glob('*.json')}
    runs = [r['run'] for r in records.values()]
    # per method 2 selection runs (more if a choice widens the grid) and 2
    # test seeds, all trained here
    assert _counts(proc.stdout) == (len(runs), 0)
    for method in methods:
        assert sum(r['method'] == method and r['phase'] == 'select'
                   for r in runs) >= 2
    assert {r['seed'] for r in runs if r['phase'] == 'select'} == {0}
    test = [r for r in runs if r['phase'] == 'test']
    assert sorted((r['method'], r['seed']) for r in test) == sorted(
        (m, s) for m in methods for s in (1, 2))
    for record in records.values():
        assert record['code'] is None or record['code']['commit']
        assert 'processor' in record['machine']
        # a selection key does not name the test split
        assert ('test' in record['key']['data']) == \
            (record['run']['phase'] == 'test')
    classes = CamVidDataset.METAINFO['classes']
    for name, record in records.items():
        run = record['run']
        if run['phase'] == 'test':
            assert list(run['class_iou']) == list(classes)
            if run['seed'] == 1:
                assert len(run['predictions']) == PREDICTED_IMAGES
                folder = out / 'records' / PREDICTIONS_FOLDER / name[:-5]
                assert all((folder / f).is_file()
                           for f in run['predictions'])
            else:
                assert 'predictions' not in run
    assert (out / 'transfer_predictions.png').read_bytes()[:8] == PNG

    # the official test split of a copy: the selection runs from their
    # records, only the test runs trained
    copy = Path(shutil.copytree(data, tmp_path / 'camvid-test'))
    make_camvid(copy, dict(test=CAMVID_NAMES['test']))
    proc = _run(*args, '--data-root', str(copy), '--test-split', 'test',
                cwd=tmp_path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    progress = _progress(proc.stdout)
    select = [r for r in runs if r['phase'] == 'select']
    assert _counts(proc.stdout) == (len(test), len(select))
    assert all(recorded == ('_select_' in name)
               for name, recorded in progress.items())
    assert len(progress) == len(runs)
    assert (out / 'transfer_predictions.png').read_bytes()[:8] == PNG


@pytest.mark.slow
def test_raccoon_end_to_end(tmp_path):
    """The raccoon detection track in a reduced setting on a tiny folder (a
    random mmdet MobileNetV2 as the source, no download): the VOC XML
    converted to COCO JSON in the out-dir, box AP in % (0 where nothing is
    detected), the first test seed's predicted boxes saved as JSON and
    drawn into ``transfer_predictions.png``."""
    from mmprotune.testing import make_raccoon
    data = make_raccoon(tmp_path / 'raccoon', num_train=9, num_test=3)
    out = tmp_path / 'out'
    settings = transfer_settings(
        TRANSFER_CONFIG_DIR, backbone='mobilenetv2', task='raccoon',
        data_root=str(data), quick=True, num_select=3, train_sizes=[4],
        iters=[2])
    assert settings.source['scope'] == 'mmdet'
    _place_source(out, settings)
    methods = ('full', 'protune')
    proc = _run('--backbone', 'mobilenetv2', '--task', 'raccoon', '--quick',
                '--num-select', '3', '--train-sizes', '4', '--iters', '2',
                '--lr-grid', '1e-3,1e-2', '--backbone-lr-mults', '1',
                '--seeds', '1', '--methods', ','.join(methods), '--out-dir',
                str(out), '--data-root', str(data), cwd=tmp_path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    assert 'box AP' in proc.stdout
    coco = {split: json.loads((out / 'coco' / f'{split}.json').read_text())
            for split in ('train', 'test')}
    assert [len(c['images']) for c in coco.values()] == [9, 3]
    records = {p.name: json.loads(p.read_text())
               for p in (out / 'records').glob('*.json')}
    runs = [r['run'] for r in records.values()]
    assert _counts(proc.stdout) == (len(runs), 0)
    assert sorted((r['method'], r['seed']) for r in runs
                  if r['phase'] == 'test') == [('full', 1), ('protune', 1)]
    for name, record in records.items():
        run = record['run']
        assert 0 <= run['AP'] <= 100 and 0 <= run['AP50'] <= 100
        if run['phase'] == 'test':
            assert len(run['predictions']) == PREDICTED_IMAGES
            folder = out / 'records' / PREDICTIONS_FOLDER / name[:-5]
            for file in run['predictions']:
                boxes = json.loads((folder / file).read_text())
                assert set(boxes) == {'bboxes', 'scores', 'labels'}
    assert (out / 'transfer_predictions.png').read_bytes()[:8] == PNG
