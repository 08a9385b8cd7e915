"""Fixtures of the backbone tests."""
import pytest

from mmprotune.testing.runner_cases import make_data


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    """The shapes data sets of the Runner cases
    (:func:`mmprotune.testing.runner_cases.make_data`)."""
    return make_data(tmp_path_factory.mktemp('data'))
