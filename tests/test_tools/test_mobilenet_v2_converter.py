"""``tools/model_converters/mobilenet_v2_torchvision.py`` writes a checkpoint
that ``init_cfg=dict(type='Pretrained', checkpoint=...)`` loads into the
scope's MobileNetV2, every tensor filled."""
import hashlib
import importlib

import pytest
import torch
import torchvision

from mmprotune.utils import SUPPORTED_SCOPES
from mmprotune.utils.mobilenet_v2 import convert_mobilenet_v2

TOOL = 'tools/model_converters/mobilenet_v2_torchvision.py'


@pytest.fixture(scope='module')
def source(tmp_path_factory):
    """A torchvision ``mobilenet_v2()`` state dict with random weights."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp('src') / 'mobilenet_v2_random.pth'
    torch.save(torchvision.models.mobilenet_v2().state_dict(), path)
    return path


@pytest.mark.parametrize('scope', SUPPORTED_SCOPES)
def test_pretrained_init_fills_every_tensor(tool_main, source, tmp_path,
                                            capsys, scope):
    pytest.importorskip(scope)
    dst = tmp_path / f'mobilenet-v2_{scope}.pth'
    tool_main(TOOL, source, dst, '--scope', scope)
    count = 306 if scope == 'mmseg' else 312
    assert f'Wrote {count} tensors for the MobileNetV2 of {scope}' \
        in capsys.readouterr().out
    checkpoint = torch.load(dst, weights_only=True)
    assert checkpoint['meta'] == dict(
        source='mobilenet_v2_random.pth',
        source_sha256=hashlib.sha256(source.read_bytes()).hexdigest(),
        scope=scope)
    converted = convert_mobilenet_v2(torch.load(source), scope)
    backbone = importlib.import_module(f'{scope}.models.backbones') \
        .MobileNetV2(init_cfg=dict(type='Pretrained', checkpoint=str(dst)))
    backbone.init_weights()
    state_dict = backbone.state_dict()
    assert list(state_dict) == list(converted)
    for key, value in converted.items():
        assert torch.equal(state_dict[key], value), key


@pytest.mark.slow
def test_tool_in_a_fresh_python(tool, source, tmp_path):
    dst = tmp_path / 'mobilenet-v2_mmseg.pth'
    code, output = tool(TOOL, source, dst, '--scope', 'mmseg')
    assert code == 0, output
    assert output.splitlines()[-2:] == [
        f'Wrote 306 tensors for the MobileNetV2 of mmseg to {dst} (source '
        f'sha256 {hashlib.sha256(source.read_bytes()).hexdigest()}).',
        'Dropped 8 source tensors: classifier.1.weight, classifier.1.bias, '
        'features.18.0.weight, features.18.1.weight, features.18.1.bias, '
        'features.18.1.running_mean, features.18.1.running_var, '
        'features.18.1.num_batches_tracked'
    ]
    code, output = tool(TOOL, source, tmp_path / 'x.pth', '--scope', 'mmcls')
    assert code == 2 and "invalid choice: 'mmcls'" in output
    assert not (tmp_path / 'x.pth').exists()
