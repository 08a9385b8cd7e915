"""Fixtures shared by the whole suite."""
import pytest

from mmprotune.testing import run_tool


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
