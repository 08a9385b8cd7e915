"""Records of the transfer benchmark (:mod:`.study`): one JSON file per
finished run, written atomically, keyed by every setting that affects the
run, so that a rerun skips what is recorded and a study that takes days
continues where it stopped, on this machine or another (records committed
under ``docs/`` are found like those of the out dir).

A record is ``{'key': ..., 'key_hash': ..., 'run': ..., 'machine': ...}``
in ``<folder>/<track>_n<size>_<method>_<phase>_lr<lr>[x<mult>]_seed<seed>-
<hash[:16]>.json`` (:func:`record_name`);
``key`` holds nothing of the machine (no paths), ``machine`` says where the
run was measured. See docs/transfer_benchmark.md.
"""
import hashlib
import json
import os.path as osp
from typing import Iterable, Optional

import mmengine

from ...utils import atomic_write

#: Bumped whenever the way a run is set up or measured changes (e.g.
#: ``run_config``), so that older records are not taken for new runs.
#: 1: every run trained on the first images of the training set at the
#: config's lr and was evaluated on the validation images. 2: selection and
#: test phases, an lr grid, training images drawn per seed from a pool. 3:
#: a selection run is scored by its training loop's last validation (a
#: curve), every run measures its peak training memory, and methods that
#: train pretrained weights have a backbone lr multiplier in their key. 4:
#: the test runs have seeds 1, 2, ... (the selection runs seed 0), a choice
#: at an edge of the lr grid widens it, a selection run's key does not name
#: the test split, a record holds the code version (commit) beside the
#: machine, and the synthetic segmentation data are drawn with seed 2.
#: Protocol 4 then gave the multiplier to every method that trains backbone
#: parameters (prompts, adapters), not only pretrained weights: its earlier
#: runs of such methods, which had none, train bit for bit as at x1
#: (checked) and were renamed so (key, hash, file name), not trained again.
#: Later still its widening tried each multiplier instead of the chosen
#: one: more selection runs, none of them different, so no new protocol.
RECORD_PROTOCOL = 4


def canonical(obj) -> object:
    """``obj`` as JSON gives it back (tuples become lists, numpy scalars
    numbers, dict keys strings), so that keys compare equal after a round
    trip through a record file."""
    return json.loads(mmengine.dump(obj, file_format='json',
                                    sort_keys=True))


def key_hash(key) -> str:
    """The sha256 (hex) of ``key``'s (a dict or list) canonical JSON."""
    text = json.dumps(canonical(key), sort_keys=True, separators=(',', ':'))
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def run_name(run: dict) -> str:
    """``n<train_size>_<method>_<phase>_lr<lr>[x<mult>]_seed<seed>`` of a
    run's key or its record's ``run`` (e.g.
    ``n50_head-only_select_lr0.001_seed0``, or ``n50_full_test_lr0.001x0.1_
    seed0`` with a backbone lr multiplier): its work dir and progress
    line."""
    mult = run.get('backbone_lr_mult')
    lr = f'{run["lr"]:g}' + ('' if mult is None else f'x{mult:g}')
    return (f'n{run["train_size"]}_{run["method"]}_{run["phase"]}_lr{lr}'
            f'_seed{run["seed"]}')


def record_name(key: dict) -> str:
    """``<track>_<run_name>-<hash[:16]>.json`` (:func:`run_name`); the
    track is the backbone, followed by ``-<task>`` for a task other than
    segmentation, e.g. ``resnet18`` and ``resnet18-cls``."""
    track = key['backbone'] + ('' if key['task'] == 'seg' else
                               f'-{key["task"]}')
    return f'{track}_{run_name(key)}-{key_hash(key)[:16]}.json'


def write_record(folder: str, key: dict, run: dict, **extra) -> str:
    """Write the record of ``run`` under ``key`` into ``folder`` atomically
    (a crash or a full disk leaves the previous record or none, never a
    truncated one); return its path.

    Args:
        folder (str): The records folder (made if missing).
        key (dict): Every setting that affects the run (``run_key``).
        run (dict): What the run measured.
        **extra: More to keep beside them, e.g. ``machine``.
    """
    path = osp.join(folder, record_name(key))
    record = dict(key=canonical(key), key_hash=key_hash(key), run=run,
                  **extra)
    atomic_write(mmengine.dump(record, file_format='json', indent=2), path,
                 encoding='utf-8')
    return path


def find_record(folders: Iterable[str], key: dict) -> Optional[dict]:
    """The record of ``key`` in the first of ``folders`` that holds it (with
    ``path`` added), or None.

    Raises:
        ValueError: A record file of ``key`` is not valid JSON (names the
            file: delete it to run again).
    """
    name = record_name(key)
    key = canonical(key)
    for folder in folders:
        path = osp.join(folder, name)
        if not osp.isfile(path):
            continue
        try:
            with open(path, encoding='utf-8') as f:
                record = json.load(f)
        except ValueError as error:
            raise ValueError(
                f'transfer record {path} is not valid JSON ({error}); '
                'delete it to run again') from error
        if record.get('key') == key:
            return dict(record, path=path)
    return None
