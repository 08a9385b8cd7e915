"""``tools/gpu_check.sh`` and ``tools/gpu_wheels.sh``: what can be checked
without a GPU. Their syntax, the steps of a dry run (install only what is
missing, the ops build for this GPU's architecture, the CUDA tests, the
reports), a real run of the install phase, and clear errors."""
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mmprotune.testing import REPO_ROOT

SCRIPTS = ('tools/gpu_check.sh', 'tools/gpu_wheels.sh')
METHODS = '--methods full,head-only,protune@autograd,protune --img-size 512'


@pytest.mark.parametrize('script', SCRIPTS)
def test_scripts_parse(script):
    proc = subprocess.run(['bash', '-n', os.path.join(REPO_ROOT, script)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def _probe_wheel(folder: Path, name: str = 'mmprotune_gpu_probe') -> Path:
    """A minimal pure-Python wheel of one module ``name``."""
    path = folder / f'{name}-0.1-py3-none-any.whl'
    info = f'{name}-0.1.dist-info'
    files = {
        f'{name}.py': 'VALUE = 42\n',
        f'{info}/METADATA': f'Metadata-Version: 2.1\nName: {name}\n'
        'Version: 0.1\n',
        f'{info}/WHEEL': 'Wheel-Version: 1.0\nGenerator: test\n'
        'Root-Is-Purelib: true\nTag: py3-none-any\n',
    }
    with zipfile.ZipFile(path, 'w') as zf:
        for arcname, text in files.items():
            zf.writestr(arcname, text)
        zf.writestr(f'{info}/RECORD', ''.join(
            f'{arcname},,\n' for arcname in [*files, f'{info}/RECORD']))
    return path


@pytest.fixture
def wheels(tmp_path):
    folder = tmp_path / 'wheels'
    folder.mkdir()
    probe = _probe_wheel(folder)
    (folder / 'addict-2.4.0-py3-none-any.whl').write_bytes(b'installed')
    (folder / 'mmcv-2.1.0.tar.gz').write_bytes(b'sdist')
    return folder, probe


def test_dry_run_prints_every_step_and_writes_nothing(tool, wheels,
                                                      tmp_path):
    folder, probe = wheels
    out_dir = tmp_path / 'out'
    rc, out = tool('tools/gpu_check.sh', '--dry-run', '--wheels', folder,
                   '--work', tmp_path / 'work', out_dir)
    assert rc == 0, out
    lines = [line[2:] for line in out.splitlines() if line.startswith('+ ')]
    # 1. only the wheels of distributions not installed (addict is)
    install = [line for line in lines if str(probe) in line]
    assert len(install) == 1 and 'pip install' in install[0]
    assert '--no-index --no-deps' in install[0]
    assert f'--target {tmp_path}/work/site' in install[0]
    assert not any('addict' in line for line in lines)
    # 2. the ops for this GPU only, from the carried sdist, then a fallback
    build = [line for line in lines if 'MMCV_WITH_OPS=1' in line]
    assert len(build) == 1
    assert 'TORCH_CUDA_ARCH_LIST=<major.minor of torch.cuda.' \
        'get_device_capability()>' in build[0]
    nproc = subprocess.run(['nproc'], capture_output=True, text=True)
    assert f'MAX_JOBS={nproc.stdout.strip()} ' in build[0]
    assert 'timeout 360' in build[0] and '--no-build-isolation' in build[0]
    assert build[0].endswith(f'{folder}/mmcv-2.1.0.tar.gz')
    assert any('MMCV_WITH_OPS=0' in line for line in lines)
    assert 'mmdet part skipped' in out
    # 3. the CUDA-marked tests
    assert any('pytest' in line and line.endswith('-k cuda')
               for line in lines)
    # 4. the reports at 512x512, into the work folder
    reports = [line for line in lines if 'tools/report.py' in line]
    assert [line.split()[4] for line in reports] == [
        'configs/mask-rcnn/mask-rcnn_protune-r50_fpn_1x_coco.py',
        'configs/mask-rcnn/mask-rcnn_protune-swin-t-p4-w7_fpn_1x_coco.py',
        'configs/upernet/upernet_protune-r50_4xb4-160k_ade20k-512x512.py'
    ]
    assert all(METHODS in line for line in reports)
    assert f'--out-dir {tmp_path}/work/report/upernet_r50' in reports[-1]
    assert 'planned report upernet_r50' in out
    assert not out_dir.exists() and not (tmp_path / 'work').exists()
    # a subset, e.g. for a second call on the warm machine
    rc, out = tool('tools/gpu_check.sh', '--dry-run', '--phases', 'report',
                   '--models', 'upernet_swin-t,mask-rcnn_r50')
    assert rc == 0, out
    assert [line.split()[5] for line in out.splitlines()
            if line.startswith('+ ') and 'tools/report.py' in line] == [
        'configs/mask-rcnn/mask-rcnn_protune-r50_fpn_1x_coco.py',
        'configs/upernet/upernet_protune-swin-t-p4-w7_8xb2-160k_ade20k-'
        '512x512.py'
    ]


@pytest.mark.slow
def test_install_phase_installs_what_is_missing(tool, wheels, tmp_path):
    folder, _ = wheels
    out_dir = tmp_path / 'out'
    work = tmp_path / 'work'
    rc, out = tool('tools/gpu_check.sh', '--phases', 'install', '--wheels',
                   folder, '--work', work, out_dir, timeout=120)
    assert rc == 0, out
    assert 'ok      install 1 carried wheels' in out
    assert (work / 'site' / 'mmprotune_gpu_probe.py').read_text() == \
        'VALUE = 42\n'
    assert not (work / 'site' / 'addict').exists()
    assert 'install 1 carried wheels' in (out_dir /
                                          'gpu_check.log').read_text()
    # a second run finds it installed
    rc, out = tool('tools/gpu_check.sh', '--phases', 'install', '--wheels',
                   folder, '--work', work, out_dir, timeout=120)
    assert rc == 0 and 'nothing to install' in out, out


@pytest.mark.parametrize('args, message', [
    (['--phases', 'install,bench'],
     "unknown phase 'bench' in --phases; allowed: install, build, test, "
     'report'),
    (['--fast'], 'unknown option --fast; allowed: --dry-run'),
    (['--wheels'], '--wheels needs a value'),
    (['--models', 'upernet_r50,retinanet'],
     "unknown report 'retinanet' in --models; allowed: mask-rcnn_r50 "
     'mask-rcnn_swin-t upernet_r50 upernet_swin-t'),
])
def test_gpu_check_rejects_bad_arguments(tool, args, message):
    rc, out = tool('tools/gpu_check.sh', '--dry-run', *args)
    assert rc == 2 and message in out, out


def test_gpu_check_without_wheels_says_what_to_run(tool, tmp_path):
    rc, out = tool('tools/gpu_check.sh', '--phases', 'install', '--wheels',
                   tmp_path / 'none', '--work', tmp_path / 'work',
                   tmp_path / 'out')
    assert rc == 2 and 'run tools/gpu_wheels.sh' in out, out


def test_gpu_wheels_dry_run(tool, tmp_path):
    rc, out = tool('tools/gpu_wheels.sh', '--dry-run', tmp_path / 'w')
    assert rc == 0, out
    wheels, sdist = [line for line in out.splitlines()
                     if line.startswith(f'+ {sys.executable} -m pip download')]
    for part in ('--only-binary=:all: --python-version 3.12',
                 '--platform manylinux2014_x86_64', '--no-deps',
                 'mmengine==0.10.7', 'mmdet==3.3.0', 'mmsegmentation==1.2.2',
                 'pycocotools==', 'setuptools==80.9.0', f'-d {tmp_path}/w'):
        assert part in wheels, part
    assert '--no-binary :all:' in sdist and sdist.endswith('mmcv==2.1.0')
    assert not (tmp_path / 'w').exists()
    gitignore = (Path(REPO_ROOT) / '.gitignore').read_text().split()
    assert '.whl/' in gitignore
