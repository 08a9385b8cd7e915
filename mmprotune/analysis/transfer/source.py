"""The transfer benchmark's source backbone: pretrained once per set of
pretraining arguments (:func:`source_key`), cached with a sidecar beside it
and copied into the records folder, so that a continued study reuses it
(:func:`pretrain`)."""
import contextlib
import hashlib
import json
import os.path as osp
from typing import Optional, Sequence

from ...utils import atomic_write
from .catalog import BACKBONES
from .pretrain import PretrainSettings, pretrain_backbone
from .records import canonical, key_hash
from .settings import TransferSettings

#: The subfolder of a records folder that holds the copies of the source
#: checkpoints with their sidecars (:func:`pretrain`), apart from the
#: records.
SOURCES_FOLDER = 'sources'


def source_key(args: dict) -> str:
    """The cache key of a source checkpoint: the hash of every pretraining
    argument (:func:`~.settings.pretrain_args`)."""
    return key_hash(dict(args))


def pretrain(settings: TransferSettings) -> dict:
    """The track's source backbone in ``settings.out_dir`` (the path the
    configs name), made with every one of ``settings.pretrain``: the one
    there if its ``.json`` sidecar names them and the checkpoint's sha256,
    else a copy of such a one in the :data:`SOURCES_FOLDER` of
    ``settings.records`` or of a ``settings.reuse_records`` folder (a study
    continued from records committed elsewhere reuses their source, which
    every record's key names), else pretrained, with its progress in a log
    file beside it, and copied there into ``settings.records`` with its
    sidecar.

    Returns:
        dict: ``checkpoint`` (path), ``summary`` (the pretraining's
        summary line), ``settings`` (the pretraining arguments), ``key``
        (:func:`source_key`) and ``sha256`` (of the checkpoint).
    """
    args = dict(settings.pretrain)
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
    source = dict(checkpoint=checkpoint, summary=summary,
                  settings=canonical(args), key=key,
                  sha256=_sha256(checkpoint))
    atomic_write(json.dumps(source, indent=2),
                 osp.join(settings.out_dir, files[1]), encoding='utf-8')
    _copy_files(settings.out_dir, osp.join(settings.records, SOURCES_FOLDER),
                files)
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
    if source.get('key') != key or source.get('sha256') != _sha256(
            checkpoint):
        return None
    return dict(source, checkpoint=checkpoint)


def _sha256(path: str) -> str:
    """The sha256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()
