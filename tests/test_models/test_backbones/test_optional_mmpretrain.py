"""mmpretrain is optional: without it (hidden from imports in a fresh
Python) mmprotune imports, its mmdet and mmseg wrappers build and run, and
what needs mmpretrain fails with an error that says what to install."""
import subprocess
import sys
import textwrap

import pytest

from mmprotune.testing import REPO_ROOT, repo_env

#: ``import mmpretrain`` (and of torchvision, which only mmpretrain needs)
#: raises ModuleNotFoundError in every Python started with this on its path.
HIDE = 'import sys\nsys.modules.update(mmpretrain=None, torchvision=None)\n'
INSTALL_HINT = 'needs mmpretrain, which is not installed: pip install ' \
    'mmpretrain'
CLS_CONFIG = 'configs/image-classifier/' \
    'image-classifier_protune-r50_8xb16-50e_cifar100.py'


@pytest.fixture
def hidden_env(tmp_path):
    """The environment of a Python that cannot import mmpretrain."""
    (tmp_path / 'sitecustomize.py').write_text(HIDE)
    env = repo_env()
    env['PYTHONPATH'] = f'{tmp_path}:{env["PYTHONPATH"]}'
    return env


def _python(code: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', textwrap.dedent(code)],
                          cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow
def test_mmdet_and_mmseg_wrappers_work_without_mmpretrain(hidden_env):
    proc = _python(
        '''
        import sys
        import torch
        import mmprotune
        from mmengine.registry import DefaultScope
        from mmdet.registry import MODELS as DET_MODELS
        from mmseg.registry import MODELS as SEG_MODELS
        assert 'mmpretrain' not in [m for m in sys.modules
                                    if sys.modules[m] is not None]
        for registry, scope in ((DET_MODELS, 'mmdet'), (SEG_MODELS, 'mmseg')):
            with DefaultScope.overwrite_default_scope(scope):
                for cfg in (dict(type='ProTuneResNet', depth=18,
                                 base_channels=8),
                            dict(type='ProTuneSwinTransformer', embed_dims=8,
                                 depths=(1, 1), num_heads=(1, 1),
                                 out_indices=(0, 1), window_size=2)):
                    model = registry.build(cfg)
                    outs = model(torch.rand(1, 3, 32, 32))
                    print(scope, cfg['type'], [tuple(o.shape) for o in outs])
        ''', hidden_env)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines()
             if line.startswith(('mmdet ', 'mmseg '))]
    assert lines == [
        'mmdet ProTuneResNet [(1, 8, 8, 8), (1, 16, 4, 4), (1, 32, 2, 2), '
        '(1, 64, 1, 1)]',
        'mmdet ProTuneSwinTransformer [(1, 8, 8, 8), (1, 16, 4, 4)]',
        'mmseg ProTuneResNet [(1, 8, 8, 8), (1, 16, 4, 4), (1, 32, 2, 2), '
        '(1, 64, 1, 1)]',
        'mmseg ProTuneSwinTransformer [(1, 8, 8, 8), (1, 16, 4, 4)]',
    ], proc.stdout


@pytest.mark.slow
def test_mmpretrain_wrapper_without_mmpretrain_says_what_to_install(
        hidden_env):
    proc = _python(
        '''
        from mmprotune.models import ClsProTuneResNet
        ''', hidden_env)
    assert proc.returncode != 0
    assert f'ClsProTuneResNet {INSTALL_HINT}' in proc.stderr, proc.stderr


@pytest.mark.slow
def test_mmpretrain_config_without_mmpretrain_says_what_to_install(
        hidden_env, tmp_path):
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', CLS_CONFIG, '--work-dir',
         str(tmp_path / 'work')],
        cwd=REPO_ROOT, env=hidden_env, capture_output=True, text=True,
        timeout=300)
    assert proc.returncode != 0
    assert f"default_scope 'mmpretrain' in config {CLS_CONFIG} " \
        f'{INSTALL_HINT}' in proc.stderr, proc.stderr
    assert not (tmp_path / 'work').exists()


def test_mmpretrain_wrappers_register_where_it_is_installed():
    from mmpretrain.registry import MODELS as CLS_MODELS

    from mmprotune.models import backbones
    for name in ('ProTuneResNet', 'ProTuneResNetV1c', 'ProTuneResNetV1d',
                 'ProTuneSwinTransformer', 'ProTuneVisionTransformer'):
        cls = CLS_MODELS.get(name)
        assert cls is getattr(backbones, f'Cls{name}'), name
        assert cls.__module__.startswith('mmprotune.'), name


def test_mmpretrain_is_an_extra_of_the_package():
    from importlib.metadata import requires
    from packaging.requirements import Requirement
    reqs = [Requirement(text) for text in requires('mmprotune')]
    by_name = {}
    for req in reqs:
        by_name.setdefault(req.name, []).append(req)
    assert all(req.marker is not None and 'extra' in str(req.marker)
               for req in by_name['mmpretrain']), by_name['mmpretrain']
    # what the code calls (torch.get_autocast_dtype(device)) needs 2.4
    torch_req, = by_name['torch']
    assert not torch_req.specifier.contains('2.3.1')
    assert torch_req.specifier.contains('2.13.0')
