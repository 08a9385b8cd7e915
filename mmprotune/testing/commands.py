"""Running the repository's tools in a fresh Python (one helper for the
tools that start other tools and for the tests), or loading one into this
process."""
import importlib.util
import os
import os.path as osp
import subprocess
import sys
from types import ModuleType
from typing import Dict, List, Optional

#: The repository root: the folder that holds ``mmprotune/``, ``tools/`` and
#: ``configs/`` (a source checkout, as ``pip install -e .`` keeps it).
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: The transfer benchmark's method configs in this checkout: the
#: ``config_dir`` that ``tools/benchmark_transfer.py`` passes.
TRANSFER_CONFIG_DIR = osp.join(REPO_ROOT, 'configs', 'transfer')


def repo_env(**overrides: str) -> Dict[str, str]:
    """``os.environ`` with :data:`REPO_ROOT` first on ``PYTHONPATH`` (a child
    imports this checkout's ``mmprotune``), ``PYTHON`` (the interpreter of the
    repository's shell scripts) this process's interpreter unless set, and
    ``OMP_WAIT_POLICY=PASSIVE`` unless set: idle OpenMP threads sleep instead
    of spinning, several times faster when other processes share the
    cores.

    Args:
        **overrides (str): Variables to set on top, e.g.
            ``OMP_NUM_THREADS='1'``.
    """
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (REPO_ROOT, env.get('PYTHONPATH')) if p)
    env.setdefault('PYTHON', sys.executable)
    env.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    env.update(overrides)
    return env


def tool_command(script: str, *args) -> List[str]:
    """The command that runs ``script`` with ``args``: ``python`` for a
    ``.py`` file, ``bash`` for a ``.sh`` file. A relative ``script`` (e.g.
    ``'tools/train.py'``) is one of the repository's."""
    path = osp.join(REPO_ROOT, script)
    interpreter = 'bash' if path.endswith('.sh') else sys.executable
    return [interpreter, path, *map(str, args)]


def run_tool(script: str,
             *args,
             cwd: Optional[str] = None,
             env: Optional[Dict[str, str]] = None,
             timeout: Optional[float] = 300,
             merge_stderr: bool = True) -> subprocess.CompletedProcess:
    """Run ``script`` (see :func:`tool_command`) with ``args`` in a fresh
    process, in the environment of :func:`repo_env`.

    Args:
        script (str): A ``.py`` or ``.sh`` file, relative to
            :data:`REPO_ROOT` or absolute.
        *args: Its arguments (turned into strings).
        cwd (str, optional): Working directory. Default: the current one.
        env (dict, optional): Variables set on top of :func:`repo_env`.
            Default: None.
        timeout (float, optional): Seconds before it is killed (an error).
            Default: 300.
        merge_stderr (bool): Send stderr into ``stdout`` (the order of a
            log). Default: True; False keeps ``stderr`` apart.

    Returns:
        subprocess.CompletedProcess: ``returncode``, ``stdout`` (text) and,
        with ``merge_stderr=False``, ``stderr``.
    """
    return subprocess.run(
        tool_command(script, *args),
        cwd=cwd,
        env=repo_env(**(env or {})),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
        text=True,
        timeout=timeout)


def load_tool(script: str) -> ModuleType:
    """The repository's Python tool ``script`` (e.g. ``'tools/train.py'``;
    ``tools/`` is no package) loaded as a module, its ``__main__`` block not
    run: a test calls its ``main(argv)`` in this process."""
    path = osp.join(REPO_ROOT, script)
    name = 'tool_' + osp.splitext(script)[0].replace(osp.sep, '_')
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
