"""The transfer benchmark's records
(:mod:`mmprotune.analysis.transfer.records`) and its
source-checkpoint cache: every setting that affects a run is in its
key, records are written atomically and found again (in the records folder
or in folders of an earlier machine), and the cached source checkpoint is
reused only for the very pretraining arguments it was made with."""
import dataclasses
import json
import os

import pytest
import torch

from mmprotune.analysis.transfer.catalog import BACKBONES, config_path
from mmprotune.analysis.transfer.data import train_indices
from mmprotune.analysis.transfer.pretrain import PretrainSettings
from mmprotune.analysis.transfer.records import (find_record, key_hash,
                                                 record_name, write_record)
from mmprotune.analysis.transfer.run import run_key
from mmprotune.analysis.transfer.settings import transfer_settings
from mmprotune.analysis.transfer.source import pretrain, source_key
from mmprotune.testing import TRANSFER_CONFIG_DIR

try:
    import resource
except ImportError:  # Windows
    resource = None


def _quick(tmp_path, **kwargs):
    kwargs.setdefault('iters', [4])  # one value for every split
    return transfer_settings(TRANSFER_CONFIG_DIR, quick=True,
                             out_dir=str(tmp_path), **kwargs)


def _changed(value):
    """A different value of the same type."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value * 2 + 1
    return f'{value}-other'


def test_source_key_covers_every_pretraining_argument(tmp_path):
    settings = _quick(tmp_path)
    fields = {f.name for f in dataclasses.fields(PretrainSettings)} - {'out'}
    assert set(settings.source) == fields
    base = source_key(settings.source)
    for name in sorted(fields):
        changed = dict(settings.source, **{name: _changed(
            settings.source[name])})
        assert source_key(changed) != base, name
    # the same arguments, another machine's folder: the same key
    assert source_key(_quick(tmp_path / 'b').source) == base


def test_changed_pretraining_argument_pretrains_again(tmp_path, monkeypatch):
    """Reused when every argument is the same; pretrained again when any
    one differs (here the ResNet track's lr, which the checkpoint name does
    not show)."""
    first = pretrain(_quick(tmp_path))
    checkpoint = first['checkpoint']
    before = torch.load(checkpoint, weights_only=True)['state_dict']
    mtime = os.stat(checkpoint).st_mtime_ns
    assert pretrain(_quick(tmp_path)) == first
    assert os.stat(checkpoint).st_mtime_ns == mtime  # not pretrained again

    monkeypatch.setitem(BACKBONES['resnet18']['pretrain'], 'lr',
                        1e-4)
    second = pretrain(_quick(tmp_path))
    after = torch.load(second['checkpoint'], weights_only=True)['state_dict']
    assert not torch.equal(before['conv1.weight'], after['conv1.weight'])
    assert second['settings']['lr'] == 1e-4
    assert second['key'] != first['key']


def test_source_is_copied_into_records_and_reused_from_them(tmp_path):
    """A pretrained source goes into the records' sources folder with its
    sidecar;
    another out dir that reuses those records copies it instead of
    pretraining; a copy whose checkpoint is not the one its sidecar names
    (here a truncated one) is not taken."""
    for out_dir in 'abc':
        (tmp_path / out_dir).mkdir()
    first = pretrain(_quick(tmp_path / 'a'))
    name = os.path.basename(first['checkpoint'])
    records = tmp_path / 'a' / 'records'
    assert (records / 'sources' / name).read_bytes() == open(
        first['checkpoint'], 'rb').read()

    second = pretrain(
        _quick(tmp_path / 'b', reuse_records=[str(records)]))
    assert second['checkpoint'] == str(tmp_path / 'b' / name)
    assert not (tmp_path / 'b' / name.replace('.pth', '.log')).exists()
    assert {k: v for k, v in second.items() if k != 'checkpoint'} == \
        {k: v for k, v in first.items() if k != 'checkpoint'}

    broken = tmp_path / 'broken'
    (broken / 'sources').mkdir(parents=True)
    for suffix in ('.pth', '.json'):
        stem_file = name.replace('.pth', suffix)
        data = (records / 'sources' / stem_file).read_bytes()
        (broken / 'sources' / stem_file).write_bytes(
            data[:100] if suffix == '.pth' else data)
    third = pretrain(
        _quick(tmp_path / 'c', reuse_records=[str(broken)]))
    assert (tmp_path / 'c' / name.replace('.pth', '.log')).exists()
    assert third['sha256'] == first['sha256']  # the same pretraining


def _key(settings, method='protune', size=8, seed=0, phase='test',
         lr=1e-2, **kwargs):
    return run_key(settings, method, size, seed, phase, lr, **kwargs)


@pytest.mark.slow
def test_run_key_changes_with_every_setting(tmp_path):
    settings = _quick(tmp_path, train_sizes=[8, 16])
    base = key_hash(_key(settings))

    def changed(**kwargs):
        return _key(_quick(tmp_path, **dict(dict(train_sizes=[8, 16]),
                                            **kwargs)))

    variants = dict(
        method=_key(settings, 'full'),
        train_size=_key(settings, size=16),
        seed=_key(settings, seed=1),
        phase=_key(settings, phase='select'),
        lr=_key(settings, lr=1e-3),
        backbone_lr_mult=_key(settings, 'full', backbone_lr_mult=0.1),
        iters=changed(iters=[5]),
        num_val=changed(num_val=9),
        num_select=changed(num_select=9),
        pool_size=changed(pool_size=40),
        task=changed(task='cls'),
    )
    # the drawn images alone (the same sizes and seed, another draw)
    pool = _quick(tmp_path, train_sizes=[8, 16], pool_size=40)
    assert train_indices(pool, 8, 0) != train_indices(
        settings, 8, 0)
    pretrained = _quick(tmp_path, train_sizes=[8, 16])
    pretrained.source['iters'] += 1
    variants['pretraining'] = _key(pretrained)
    # the config's content (here its lr), not its file name
    config = tmp_path / 'protune_lr.py'
    config.write_text(
        f'_base_ = {config_path(TRANSFER_CONFIG_DIR, "protune")!r}\n'
        'optim_wrapper = dict(optimizer=dict(lr=3e-3))\n')
    variants['config'] = _key(settings, config=str(config))
    assert variants['config']['lr'] == 1e-2  # the grid's, not the config's
    hashes = {name: key_hash(key) for name, key in variants.items()}
    for name, value in hashes.items():
        assert value != base, name
    assert len(set(hashes.values())) == len(hashes)
    # a multiplier of 1 is a setting of its own, not the config's as it is
    assert key_hash(_key(settings, 'full', backbone_lr_mult=1.)) != \
        key_hash(variants['method'])
    # a selection run's key does not name the test split
    assert key_hash(_key(settings, phase='select')) == key_hash(
        _key(_quick(tmp_path, train_sizes=[8, 16], num_val=9),
             phase='select'))
    # nothing of this machine: another out dir gives the same key
    assert key_hash(_key(_quick(tmp_path / 'elsewhere',
                                train_sizes=[8, 16]))) == base
    # the training images' hash: the split a seed drew
    assert _key(settings)['train_images'] == key_hash(
        train_indices(settings, 8, 0))
    with pytest.raises(ValueError, match="phase: unknown 'val'; allowed: "
                       'select, test'):
        _key(settings, phase='val')


@pytest.mark.parametrize('protocol', [1, 2, 3])
def test_records_of_earlier_protocols_are_not_taken(tmp_path, protocol):
    """A record of the same run under an earlier protocol (its key
    otherwise the same, in a folder of committed records) is not found."""
    folder = str(tmp_path / 'committed')
    key = _key(_quick(tmp_path / 'out'))
    assert key['protocol'] == 4
    old = dict(key, protocol=protocol)
    write_record(folder, old, dict(mIoU=50.0))
    assert find_record([folder], old)['run'] == dict(mIoU=50.0)
    assert find_record([folder], key) is None


def _record(tmp_path, miou=50.0):
    settings = _quick(tmp_path / 'out')
    key = _key(settings, 'head-only')
    return key, dict(train_size=8, method='head-only', phase='test', lr=1e-2,
                     seed=0, mIoU=miou)


def test_records_are_found_in_every_folder(tmp_path):
    key, run = _record(tmp_path)
    mine, committed = tmp_path / 'records', tmp_path / 'docs_records'
    assert find_record([str(mine), str(committed)], key) is None
    path = write_record(str(committed), key, run)
    assert os.path.dirname(path) == str(committed)
    found = find_record([str(mine), str(committed)], key)
    assert found['run'] == run and found['key'] == key
    other = dict(key, seed=1)
    assert find_record([str(mine), str(committed)], other) is None


def test_a_broken_record_is_an_error_that_names_it(tmp_path):
    key, run = _record(tmp_path)
    path = write_record(str(tmp_path / 'records'), key, run)
    with open(path, 'w') as f:
        f.write('{"key": ')
    with pytest.raises(ValueError, match=f'{path}.*delete it'):
        find_record([str(tmp_path / 'records')], key)


@pytest.mark.skipif(resource is None, reason='needs RLIMIT_FSIZE')
def test_records_are_written_atomically(tmp_path):
    folder = tmp_path / 'records'
    key, run = _record(tmp_path)
    path = write_record(str(folder), key, run)
    before = open(path, 'rb').read()
    # a full disk (a file-size limit) while the record is rewritten
    run = dict(run, mIoU=60.0, loss_curve=[0.5] * 1000)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (len(before) + 10, hard))
    try:
        with pytest.raises(OSError, match='File too large'):
            write_record(str(folder), key, run)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert open(path, 'rb').read() == before
    assert os.listdir(folder) == [os.path.basename(path)]  # no temp file
    assert json.loads(before)['run']['mIoU'] == 50.0


def test_tasks_have_their_own_records(tmp_path):
    """A key names its task and the version of the task's package (mmseg,
    mmpretrain), and its record file starts with its track: the two never
    collide."""
    seg = _key(_quick(tmp_path), phase='select', lr=1e-3)
    cls = _key(_quick(tmp_path, task='cls'), phase='select', lr=1e-3)
    assert set(seg) == {'protocol', 'backbone', 'task', 'method', 'phase',
                        'train_size', 'seed', 'train_images', 'iters',
                        'curve_points', 'lr', 'backbone_lr_mult', 'config',
                        'source', 'data', 'versions'}
    assert set(seg['versions']) == {'mmprotune', 'mmseg', 'mmengine'}
    assert set(cls) == set(seg) and (seg['task'], cls['task']) == ('seg',
                                                                   'cls')
    assert set(cls['versions']) == {'mmprotune', 'mmpretrain', 'mmengine'}
    assert record_name(seg).startswith(
        'resnet18_n8_protune_select_lr0.001_seed0-')
    assert record_name(cls).startswith(
        'resnet18-cls_n8_protune_select_lr0.001_seed0-')
    # a backbone lr multiplier after the lr
    full = _key(_quick(tmp_path), 'full', backbone_lr_mult=0.1)
    assert record_name(full).startswith(
        'resnet18_n8_full_test_lr0.01x0.1_seed0-')
    folder = str(tmp_path / 'records')
    write_record(folder, seg, dict(mIoU=50.0))
    assert find_record([folder], cls) is None
    write_record(folder, cls, dict(top1=70.0))
    assert find_record([folder], seg)['run'] == dict(mIoU=50.0)
    assert find_record([folder], cls)['run'] == dict(top1=70.0)
