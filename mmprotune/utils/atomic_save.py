"""Crash-safe local writes for mmengine (checkpoints above all).

mmengine's ``LocalBackend.put`` opens the target with ``'wb'``, which empties
it before the first byte arrives: a crash, a full disk or a killed job while
``Runner.save_checkpoint`` writes ``iter_N.pth`` (or any file mmengine writes
through its file backends) leaves a truncated file behind. Importing mmprotune
registers :class:`AtomicLocalBackend` for local paths instead, so a file is
either its old version or its complete new version, never a mix.
"""
import os
import os.path as osp
import stat
import uuid
from pathlib import Path
from typing import Optional, Union

import mmengine.fileio.io as mmengine_io
from mmengine.fileio import LocalBackend, register_backend
from mmengine.utils import mkdir_or_exist


def atomic_write(obj: Union[bytes, str],
                 filepath: Union[str, Path],
                 encoding: Optional[str] = None) -> None:
    """Write ``obj`` to ``filepath`` atomically.

    The data goes to a hidden temporary file in the same directory, is
    flushed and fsynced, and then ``os.replace`` moves it onto ``filepath``
    (atomic on POSIX and Windows). If anything fails on the way, the
    temporary file is removed and ``filepath`` is left as it was. A symlink
    ``filepath`` keeps pointing where it did; an existing file's permission
    bits are kept, a new file gets the usual ``0o666 & ~umask``.

    Args:
        obj (bytes | str): Data to write; ``str`` is written in text mode.
        filepath (str | Path): Destination; missing parent folders are made.
        encoding (str, optional): Encoding of a ``str`` ``obj``.
    """
    target = osp.realpath(filepath)
    folder = osp.dirname(target)
    mkdir_or_exist(folder)
    tmp = osp.join(folder,
                   f'.{osp.basename(target)}.{uuid.uuid4().hex[:8]}.tmp')
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_BINARY', 0)
    fd = os.open(tmp, flags, 0o666)
    try:
        mode = 'w' if isinstance(obj, str) else 'wb'
        with open(fd, mode, encoding=encoding) as f:
            f.write(obj)
            f.flush()
            os.fsync(f.fileno())
        if osp.exists(target):
            os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(tmp, target)
    except BaseException:
        try:
            os.remove(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_folder(folder)


def _fsync_folder(folder: str) -> None:
    """Persist the rename itself (POSIX); a no-op where folders cannot be
    opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class AtomicLocalBackend(LocalBackend):
    """``LocalBackend`` whose ``put`` and ``put_text`` write atomically (see
    :func:`atomic_write`); reading is unchanged."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Write bytes to ``filepath`` atomically."""
        atomic_write(obj, filepath)

    def put_text(self,
                 obj: str,
                 filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        """Write text to ``filepath`` atomically."""
        atomic_write(obj, filepath, encoding=encoding)


def register_atomic_save() -> None:
    """Make :class:`AtomicLocalBackend` mmengine's backend for local paths.

    ``get_file_backend`` (which ``Runner.save_checkpoint``,
    ``mmengine.fileio.put``/``dump`` and the hooks use) picks the backend
    registered for the empty prefix; cached ``LocalBackend`` singletons are
    dropped so that they are rebuilt as atomic ones. Calling it again is
    harmless. The deprecated ``file_client_args`` path (``FileClient``) is not
    affected.
    """
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
    cache = mmengine_io.backend_instances
    for key in [k for k, v in cache.items() if type(v) is LocalBackend]:
        del cache[key]
