"""Fixtures of the PEFT tests."""
import pytest

from mmprotune.testing import write_pretrained_checkpoint
from mmprotune.testing.peft_cases import WRAPPERS


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    """A pretrained checkpoint of each upstream backbone in ``WRAPPERS``,
    saved as a detector's (``backbone.`` keys)."""
    paths = {}
    for name, (_, upstream_cls, kwargs, _) in WRAPPERS.items():
        paths[name] = str(tmp_path_factory.mktemp('ckpt') / 'pretrained.pth')
        write_pretrained_checkpoint(upstream_cls(**kwargs), paths[name],
                                    prefix='backbone.')
    return paths
