"""``tools/install.sh`` leaves a consistent stack: every package that
``requirements/constraints.txt`` pins is installed at its pin, and every
requirement of those packages and of mmprotune is met by what is installed
(what ``pip check`` checks, for the stack alone)."""
import importlib.metadata as md
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

CONSTRAINTS = Path(__file__).parents[2] / 'requirements' / 'constraints.txt'


def _pins() -> dict:
    pins = {}
    for line in CONSTRAINTS.read_text(encoding='utf-8').splitlines():
        line = line.split('#')[0].strip()
        if line:
            req = Requirement(line)
            pins[canonicalize_name(req.name)] = req.specifier
    return pins


def _unmet(dist_name: str) -> list:
    """The requirements of ``dist_name`` (extras left out) that the
    installed packages do not meet."""
    env = dict(default_environment(), extra='')
    unmet = []
    for text in md.requires(dist_name) or []:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        try:
            version = md.version(req.name)
        except md.PackageNotFoundError:
            unmet.append(f'{text} (not installed)')
            continue
        if not req.specifier.contains(version, prereleases=True):
            unmet.append(f'{text} (installed: {version})')
    return unmet


def test_pinned_versions_installed():
    pins = _pins()
    assert {'numpy', 'opencv-python', 'setuptools', 'mmcv'} <= set(pins)
    wrong = {
        name: md.version(name)
        for name, spec in pins.items() if md.version(name) not in spec
    }
    assert not wrong, f'installed against the pins of {CONSTRAINTS}: {wrong}'


@pytest.mark.parametrize('dist_name', sorted(_pins()) + ['mmprotune'])
def test_requirements_met(dist_name):
    assert _unmet(dist_name) == []


def test_torchvision_ops_load():
    """mmpretrain imports torchvision: its compiled ops must load with the
    installed torch (they do not with the +cpu build of torch)."""
    import torch
    import torchvision

    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 11., 11.],
                          [20., 20., 30., 30.]])
    keep = torchvision.ops.nms(boxes, torch.tensor([.9, .8, .7]), 0.5)
    assert keep.tolist() == [0, 2]
