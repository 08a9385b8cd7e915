"""``tools/benchmark_transfer.py``: a reduced run end to end through the
command (pretraining, data, Runner training and test per method, markdown,
JSON, plot), its parameter counts against an independent count, the seed
statistics, and the error for an unknown method."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmseg.registry import MODELS

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / 'tools' / 'benchmark_transfer.py'
METHODS = ('full', 'head-only', 'protune')


def _load_tool():
    spec = importlib.util.spec_from_file_location('benchmark_transfer', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(*args, cwd):
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (str(REPO), env.get('PYTHONPATH')) if p)
    env['OMP_WAIT_POLICY'] = 'PASSIVE'
    return subprocess.run([sys.executable, str(TOOL), *args],
                          cwd=cwd,
                          env=env,
                          stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE,
                          text=True,
                          timeout=300)


def _trainable(config: str) -> tuple:
    """(all, backbone) trainable parameters of the config's model, counted
    here from ``requires_grad`` (no weights loaded)."""
    cfg = Config.fromfile(config)
    cfg.model.backbone.init_cfg = None
    import mmprotune  # noqa: F401  (registers the ProTune backbones)
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg.model)
    trainable = [(n, p.numel()) for n, p in model.named_parameters()
                 if p.requires_grad]
    return (sum(n for _, n in trainable),
            sum(n for name, n in trainable if name.startswith('backbone.')))


def test_benchmark_transfer_quick(tmp_path):
    out_dir = tmp_path / 'out'
    proc = _run('--quick', '--methods', ','.join(METHODS), '--out-dir',
                str(out_dir), cwd=tmp_path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    out = proc.stdout
    assert '**8 training images, 4 iterations**' in out
    assert '| method | mIoU | seeds |' in out
    for method in METHODS:
        assert f'| {method} | ' in out

    report = json.loads((out_dir / 'transfer.json').read_text())
    assert report['settings']['methods'] == list(METHODS)
    assert report['settings']['seeds'] == 1
    assert report['source']['summary'].startswith('final train loss')
    assert [(r['method'], r['seed']) for r in report['runs']] == [
        (m, 0) for m in METHODS
    ]
    summary = report['summary']['8']
    tool = _load_tool()
    for method in METHODS:
        s = summary[method]
        assert 0 <= s['mIoU_mean'] <= 100 and s['mIoU_std'] == 0
        assert s['step_s'] > 0 and s['saved_bytes'] > 0
        assert (s['trainable_params'], s['backbone_trainable_params']) == \
            _trainable(tool.config_path(method))
    assert summary['head-only']['backbone_trainable_params'] == 0
    # a frozen backbone's per-task checkpoint is a delta: far smaller
    assert summary['protune']['checkpoint_bytes'] < \
        summary['full']['checkpoint_bytes'] / 5
    assert (out_dir / 'transfer.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    # the source checkpoint is a plain backbone state dict
    checkpoint = Path(report['source']['checkpoint'])
    assert checkpoint.parent == out_dir
    state = torch.load(checkpoint, map_location='cpu')['state_dict']
    assert state['conv1.weight'].shape == (16, 3, 7, 7)
    # with the BN statistics of pretraining, not the initial 0 / 1
    assert not torch.equal(state['bn1.running_var'],
                           torch.ones_like(state['bn1.running_var']))


def test_summary_mean_and_sample_std():
    tool = _load_tool()
    runs = [
        dict(train_size=50, method=method, seed=seed, mIoU=miou + offset,
             step_s=0.1 * (seed + 1), trainable_params=10,
             backbone_trainable_params=4, saved_bytes=2**20,
             checkpoint_bytes=2**20)
        for method, offset in (('head-only', -10), ('protune', 0))
        for seed, miou in enumerate((60, 64, 68))
    ]
    table = tool.summarize(runs)
    s = table[50]['protune']
    assert s['mIoU_mean'] == 64 and s['mIoU_std'] == 4
    assert s['mIoU_seeds'] == [60, 64, 68] and s['step_s'] == 0.2
    text = tool.markdown(table, iters={50: 100})
    assert '**50 training images, 100 iterations**' in text
    assert '| protune | 64.0 ± 4.0 | 60.0 / 64.0 / 68.0 | +10.0 | 10 (4) | ' \
        '200 ms | 1.0 MiB | 1.00 MiB |' in text


def test_iterations_per_split():
    tool = _load_tool()
    args = tool.parse_args(['--train-sizes', '50,500', '--iters', '300,900'])
    assert args.iters == {50: 300, 500: 900}
    args = tool.parse_args(['--train-sizes', '50,500', '--iters', '300'])
    assert args.iters == {50: 300, 500: 300}
    assert tool.parse_args([]).iters == {50: 500, 500: 1000}


def test_iterations_must_match_the_splits(tmp_path):
    proc = _run('--train-sizes', '50,500', '--iters', '1,2,3', '--out-dir',
                str(tmp_path / 'out'), cwd=tmp_path)
    assert proc.returncode == 2
    assert '--iters: expected 1 or 2 values (one per --train-sizes 50,500)' \
        ', got 1,2,3' in proc.stderr


@pytest.mark.parametrize('methods', ['full,foo', 'Protune', ''])
def test_unknown_method_lists_allowed(tmp_path, methods):
    proc = _run('--methods', methods, '--out-dir', str(tmp_path / 'out'),
                cwd=tmp_path)
    assert proc.returncode == 2
    assert 'unknown method(s)' in proc.stderr
    assert 'allowed: full, head-only, protune, bitfit, lora, conv-adapter, ' \
        'mona, scratch' in proc.stderr
    assert not (tmp_path / 'out').exists()
