"""The ``>>>`` examples in the package's docstrings run as tests, one per
module that has any, so that a failure names the module."""
import doctest
import importlib
import pkgutil

import pytest
from mmengine.logging import MMLogger

import mmprotune

#: Packages a module may need that ``setup.py`` leaves optional: such a
#: module is skipped where they are not installed.
OPTIONAL = ('mmpretrain', )


def _modules_with_examples():
    """``{module name: import error or None}`` of the package's modules that
    have examples or could not be imported (those fail or skip)."""
    found = {}
    finder = doctest.DocTestFinder()
    for info in pkgutil.walk_packages(
            mmprotune.__path__, 'mmprotune.',
            onerror=lambda name: found.setdefault(name, ImportError(name))):
        try:
            module = importlib.import_module(info.name)
        except ImportError as error:
            found[info.name] = error
            continue
        if any(t.examples for t in finder.find(module, info.name)):
            found[info.name] = None
    return found


MODULES = _modules_with_examples()


@pytest.mark.parametrize('name', sorted(MODULES))
def test_docstring_examples(name):
    error = MODULES[name]
    if isinstance(error, ModuleNotFoundError) and error.name in OPTIONAL:
        pytest.skip(f'needs {error.name}')
    module = importlib.import_module(name)
    # the current logger exists before an example runs: its handler writes
    # to the stream it was made with, not into the examples' output (the
    # wrappers log their trainable parameters when built)
    MMLogger.get_current_instance()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in doctest.DocTestFinder().find(module, name):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted and not result.failed, (
        f'{result.failed} of {result.attempted} examples failed in {name} '
        '(the report above)')
