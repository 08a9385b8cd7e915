"""Smoke test of ``tools/demo.py --quick``: every step of the demo (data,
backbone pretraining, Pro-tuning, test, summary) on tiny settings."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_demo_quick(tmp_path):
    work_dir, data_root = tmp_path / 'work', tmp_path / 'data'
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (str(REPO), env.get('PYTHONPATH')) if p)
    proc = subprocess.run([
        sys.executable,
        str(REPO / 'tools' / 'demo.py'), '--quick', '--work-dir',
        str(work_dir), '--data-root',
        str(data_root)
    ],
                          cwd=tmp_path,
                          env=env,
                          stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT,
                          text=True,
                          timeout=300)
    out = proc.stdout
    assert proc.returncode == 0, out[-5000:]
    summary = out[out.index('Pro-tuning demo summary'):]
    assert 'bbox mAP: ' in summary and 'mAP_50: ' in summary
    for part in ('backbone (frozen)', 'backbone.prompts', 'neck', 'heads',
                 'all'):
        assert part in summary
    for step in ('pretrain backbone', 'train (Pro-tuning)', 'test', 'total'):
        assert step in summary
    assert (work_dir / 'resnet18_shapes-pretrain.pth').is_file()
    assert (data_root / 'annotations' / 'instances_val2017.json').is_file()
    # nothing is written outside the given folders
    assert not (tmp_path / 'work_dirs').exists()
    assert not (tmp_path / 'data' / 'shapes_coco_quick').exists()
