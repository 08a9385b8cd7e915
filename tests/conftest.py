"""Fixtures shared by the whole suite."""
import pytest

from mmprotune.testing import load_tool, run_tool


@pytest.fixture(scope='session')
def tool():
    """``tool(script, *args, cwd=None, env=None, timeout=300)`` runs a
    repository tool (e.g. ``'tools/train.py'``, ``'tools/dist_train.sh'``)
    in a fresh process with the repository on ``PYTHONPATH``
    (:func:`mmprotune.testing.run_tool`) and returns ``(returncode,
    output)``, stderr merged into the output."""

    def run(script, *args, **kwargs):
        proc = run_tool(script, *args, **kwargs)
        return proc.returncode, proc.stdout

    return run


@pytest.fixture
def tool_main(monkeypatch):
    """``tool_main(script, *args)`` calls the ``main`` of a repository tool
    (e.g. ``'tools/train.py'``) with ``args`` (turned into strings) in this
    process (:func:`mmprotune.testing.load_tool`), for the errors of bad
    input; ``LOCAL_RANK``, which the launchers export, is unset again
    afterwards."""
    monkeypatch.delenv('LOCAL_RANK', raising=False)

    def run(script, *args):
        return load_tool(script).main([str(arg) for arg in args])

    return run
