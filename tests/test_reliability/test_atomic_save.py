"""A checkpoint save that dies midway leaves the previous checkpoint intact.

``Runner.save_checkpoint`` serialises into memory and then hands the bytes to
the file backend that ``get_file_backend`` picks for the path; with
:class:`AtomicLocalBackend` registered, the target is only ever replaced by a
complete file. The crashes are real: a file-size limit (``RLIMIT_FSIZE``,
what a full disk or quota looks like to the writer) and ``os.replace``
failing; each case fails with mmengine's own ``LocalBackend``. (An object
that cannot be pickled is no such case: mmengine serialises the whole
checkpoint into memory before it opens the file, so the old file survives
with either backend.)
"""
import os
import stat

import mmengine.fileio.io as mmengine_io
import pytest
import torch
from mmengine.fileio import (LocalBackend, get_file_backend, put_text,
                             register_backend)
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader

from mmprotune.utils.atomic_save import (AtomicLocalBackend, atomic_write,
                                         register_atomic_save)

try:
    import resource
except ImportError:  # Windows
    resource = None


@pytest.fixture(autouse=True)
def atomic():
    register_atomic_save()
    yield
    register_atomic_save()


@pytest.fixture(scope='module')
def runner(tiny_cfg, tmp_path_factory):
    """A RetinaNet-with-ProTuneResNet Runner after one training step."""
    runner = Runner.from_cfg(
        tiny_cfg('mmdet', tmp_path_factory.mktemp('atomic')))
    runner.train()
    return runner


def _file_size_limit(limit):
    """Writes past ``limit`` bytes fail with EFBIG (Python ignores SIGXFSZ)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    return soft, hard


def _crash_disk_full(runner, path, monkeypatch):
    size = os.path.getsize(path)
    old = _file_size_limit(size // 2)
    try:
        runner.save_checkpoint(str(path.parent), path.name)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old)


def _crash_on_replace(runner, path, monkeypatch):

    def replace(*args):
        raise OSError('simulated crash before the rename')

    monkeypatch.setattr(os, 'replace', replace)
    runner.save_checkpoint(str(path.parent), path.name)


@pytest.mark.parametrize('crash, error', [
    pytest.param(_crash_disk_full, 'File too large', marks=pytest.mark.skipif(
        resource is None, reason='needs RLIMIT_FSIZE')),
    (_crash_on_replace, 'simulated crash'),
], ids=['disk-full', 'replace-fails'])
def test_crashed_save_keeps_previous_checkpoint(crash, error, runner,
                                                tmp_path, monkeypatch):
    path = tmp_path / 'iter_1.pth'
    runner.save_checkpoint(str(tmp_path), path.name)
    before = path.read_bytes()
    bias = runner.model.backbone.prompts['0'].up.bias
    saved = bias.detach().clone()
    bias.data.add_(1.0)  # the next save differs from the one on disk
    try:
        with pytest.raises(OSError, match=error):
            crash(runner, path, monkeypatch)
    finally:
        bias.data.copy_(saved)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == [path.name]
    state = CheckpointLoader.load_checkpoint(str(path))['state_dict']
    assert torch.equal(state['backbone.prompts.0.up.bias'], saved)


def test_runner_checkpoints_go_through_the_atomic_backend(runner, tmp_path):
    """Each save writes a new file and renames it onto the old one (a new
    inode); mmengine's plain ``LocalBackend`` rewrites the old file in
    place."""
    assert type(get_file_backend(str(tmp_path / 'x.pth'))) is \
        AtomicLocalBackend
    path = tmp_path / 'iter_1.pth'
    runner.save_checkpoint(str(tmp_path), path.name)
    first = os.stat(path).st_ino
    runner.save_checkpoint(str(tmp_path), path.name)
    assert os.stat(path).st_ino != first
    assert sorted(os.listdir(tmp_path)) == [path.name]
    assert 'state_dict' in CheckpointLoader.load_checkpoint(str(path))


def test_registration_replaces_cached_local_backends(tmp_path):
    # as in a process that used mmengine's fileio before importing mmprotune
    register_backend('local', LocalBackend, force=True, prefixes='')
    mmengine_io.backend_instances.clear()
    path = tmp_path / 'last_checkpoint'
    put_text('before', str(path))  # caches a plain LocalBackend singleton
    assert type(get_file_backend(str(path), enable_singleton=True)) is \
        LocalBackend
    register_atomic_save()
    assert type(get_file_backend(str(path), enable_singleton=True)) is \
        AtomicLocalBackend
    put_text('after', str(path))
    assert path.read_text() == 'after'


def test_keeps_permissions_and_symlinks(tmp_path):
    target = tmp_path / 'real.pth'
    target.write_bytes(b'old')
    os.chmod(target, 0o640)
    link = tmp_path / 'latest.pth'
    link.symlink_to(target.name)
    atomic_write(b'new', link)
    assert link.is_symlink() and link.read_bytes() == b'new'
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640
    assert sorted(os.listdir(tmp_path)) == ['latest.pth', 'real.pth']
