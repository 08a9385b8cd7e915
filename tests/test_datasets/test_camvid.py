"""Tests for ``CamVidDataset`` and its base config
``configs/_base_/datasets/camvid.py``, on a tiny CamVid-layout folder written
here and (when present) on the real data."""
import copy
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData
from mmseg.registry import DATASETS
from PIL import Image

from mmprotune.datasets import CamVidDataset
from mmprotune.testing import REPO_ROOT, repo_env
from mmprotune.testing.camvid import NAMES, VOID_COLOUR, make_camvid

BASE_CONFIG = os.path.join(REPO_ROOT, 'configs/_base_/datasets/camvid.py')
REAL_ROOT = Path(
    os.environ.get('MMPROTUNE_CAMVID',
                   os.path.join(REPO_ROOT, '..', 'shared', 'data', 'camvid')))
VOID = CamVidDataset.VOID


@pytest.fixture(scope='module')
def camvid_root(tmp_path_factory):
    """A CamVid-layout folder of :data:`NAMES` (see :func:`make_camvid`)."""
    return make_camvid(tmp_path_factory.mktemp('camvid'))


def _read_label(path) -> np.ndarray:
    return np.asarray(Image.open(path))


def _build(split: str, data_root, **kwargs) -> CamVidDataset:
    """The base config's ``split`` (train or val) dataset, with its pipeline
    unless ``kwargs`` replace it, on ``data_root``."""
    base = Config.fromfile(BASE_CONFIG)
    loader = base.train_dataloader if split == 'train' else \
        base.val_dataloader
    cfg = copy.deepcopy(loader.dataset)
    cfg.update(data_root=str(data_root), **kwargs)
    with DefaultScope.overwrite_default_scope('mmseg'):
        return DATASETS.build(cfg)


def test_metainfo():
    meta = CamVidDataset.METAINFO
    assert meta['classes'] == ('Sky', 'Building', 'Pole', 'Road', 'Pavement',
                               'Tree', 'SignSymbol', 'Fence', 'Car',
                               'Pedestrian', 'Bicyclist')
    assert meta['palette'][0] == [128, 128, 128]
    assert meta['palette'][4] == [60, 40, 222]
    assert meta['palette'][10] == [0, 128, 192]
    assert len(meta['palette']) == 11


def test_lists_pairs_and_indices(camvid_root):
    for split, names in NAMES.items():
        dataset = _build(split, camvid_root, pipeline=[])
        assert len(dataset) == len(names)
        for i, name in enumerate(sorted(names)):
            info = dataset.get_data_info(i)
            assert info['img_path'] == str(camvid_root / split / f'{name}.png')
            assert info['seg_map_path'] == str(camvid_root / f'{split}annot' /
                                               f'{name}.png')
            assert info['reduce_zero_label'] is False
        assert dataset.metainfo['classes'] == CamVidDataset.METAINFO[
            'classes']
    names = sorted(NAMES['train'])
    subset = _build('train', camvid_root, pipeline=[], indices=[2, 0])
    assert [Path(subset.get_data_info(i)['img_path']).stem
            for i in range(len(subset))] == [names[2], names[0]]
    first = _build('train', camvid_root, pipeline=[], indices=1)
    assert len(first) == 1
    assert Path(first.get_data_info(0)['img_path']).stem == names[0]


def test_test_pipeline_void_is_255(camvid_root):
    """Labels load at full resolution, void as 255, classes unchanged; the
    image is resized to the 320 x 240 scale."""
    dataset = _build('val', camvid_root)
    for i in range(len(dataset)):
        sample = dataset[i]
        raw = _read_label(dataset.get_data_info(i)['seg_map_path'])
        assert {0, VOID} <= set(np.unique(raw).tolist())
        gt = sample['data_samples'].gt_sem_seg.data.squeeze(0).numpy()
        np.testing.assert_array_equal(gt, np.where(raw == VOID, 255, raw))
        assert tuple(sample['inputs'].shape) == (3, 240, 320)


def test_train_pipeline_void_is_255(camvid_root):
    """Through the random resize, crop and flip, every pixel inside a
    block of one palette colour has that colour's label (void's 255)."""
    dataset = _build('train', camvid_root)
    colours = CamVidDataset.METAINFO['palette'] + [list(VOID_COLOUR)]
    values = list(range(11)) + [255]
    np.random.seed(0)
    seen = set()
    for i in range(len(dataset)):
        sample = dataset[i]
        img = sample['inputs'].numpy()[::-1].transpose(1, 2, 0)  # BGR -> RGB
        gt = sample['data_samples'].gt_sem_seg.data.squeeze(0).numpy()
        # at most the crop: the model's data_preprocessor pads smaller ones
        assert img.shape[:2] == gt.shape
        assert gt.shape[0] <= 240 and gt.shape[1] <= 320
        assert set(np.unique(gt).tolist()) <= set(values)
        # pixels whose 3 x 3 neighbourhood has one colour: block interiors
        flat = img[1:-1, 1:-1]
        h, w = flat.shape[:2]
        same = np.ones((h, w), bool)
        for dy in (0, 1, 2):
            for dx in (0, 1, 2):
                same &= (img[dy:dy + h, dx:dx + w] == flat).all(-1)
        inner = gt[1:-1, 1:-1]
        for colour, value in zip(colours, values):
            where = same & (flat == colour).all(-1)
            np.testing.assert_array_equal(inner[where], value)
            if where.any():
                seen.add(value)
    assert 255 in seen and len(seen) >= 8


def _iou_by_hand(labels, preds) -> float:
    """mIoU (%) over the classes present in labels or predictions, void
    pixels left out."""
    label = np.concatenate([x.ravel() for x in labels])
    pred = np.concatenate([x.ravel() for x in preds])
    keep = label != VOID
    label, pred = label[keep], pred[keep]
    ious = []
    for c in range(11):
        union = np.sum((label == c) | (pred == c))
        if union:
            ious.append(np.sum((label == c) & (pred == c)) / union)
    return 100 * float(np.mean(ious))


def _evaluate(dataset, preds) -> dict:
    evaluator_cfg = Config.fromfile(BASE_CONFIG).val_evaluator
    with DefaultScope.overwrite_default_scope('mmseg'):
        evaluator = Evaluator(evaluator_cfg)
    evaluator.dataset_meta = dataset.metainfo
    for i, pred in enumerate(preds):
        data_sample = dataset[i]['data_samples']
        data_sample.pred_sem_seg = PixelData(
            data=torch.from_numpy(pred[None].astype(np.int64)))
        evaluator.process([data_sample])
    return evaluator.evaluate(len(preds))


def test_val_evaluator(camvid_root):
    dataset = _build('val', camvid_root)
    labels = [
        _read_label(camvid_root / 'valannot' / f'{name}.png')
        for name in sorted(NAMES['val'])
    ]
    # void pixels predicted as Road: they must not count
    perfect = [np.where(x == VOID, 3, x) for x in labels]
    assert _evaluate(dataset, perfect)['mIoU'] == 100
    # the first image's Road predicted as Tree, its Sky as Car
    partial = [x.copy() for x in perfect]
    partial[0][labels[0] == 3] = 5
    partial[0][labels[0] == 0] = 8
    expected = _iou_by_hand(labels, partial)
    assert 50 < expected < 99
    assert _evaluate(dataset, partial)['mIoU'] == pytest.approx(
        expected, abs=0.006)


def test_missing_label_is_an_error_at_build(camvid_root, tmp_path):
    root = tmp_path / 'camvid'
    for split in ('val', 'valannot'):
        (root / split).mkdir(parents=True)
        for name in NAMES['val']:
            (root / split / f'{name}.png').write_bytes(
                (camvid_root / split / f'{name}.png').read_bytes())
    missing = NAMES['val'][1]
    (root / 'valannot' / f'{missing}.png').unlink()
    with pytest.raises(FileNotFoundError) as err:
        _build('val', root)
    msg = str(err.value)
    assert str(root / 'val' / f'{missing}.png') in msg
    assert str(root / 'valannot') in msg


@pytest.mark.slow
def test_custom_imports_is_enough(camvid_root, tmp_path):
    """A config that inherits the base config and names ``mmprotune`` in
    ``custom_imports`` builds the dataset in a fresh Python."""
    config = tmp_path / 'camvid_cfg.py'
    config.write_text(
        f"_base_ = [{BASE_CONFIG!r}]\n"
        f"custom_imports = dict(imports=['mmprotune'])\n"
        'train_dataloader = dict(dataset=dict('
        f'data_root={str(camvid_root)!r}))\n')
    code = f'''
        from mmengine.config import Config
        from mmengine.registry import init_default_scope
        from mmseg.registry import DATASETS
        cfg = Config.fromfile({str(config)!r})
        init_default_scope('mmseg')
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
        print(type(dataset).__name__, len(dataset))
        '''
    proc = subprocess.run([sys.executable, '-c', textwrap.dedent(code)],
                          cwd=REPO_ROOT, env=repo_env(), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ['CamVidDataset', '3']


@pytest.mark.skipif(not REAL_ROOT.is_dir(), reason=f'no {REAL_ROOT}')
def test_real_data():
    for split, num in (('train', 367), ('val', 101)):
        dataset = _build(split, REAL_ROOT, pipeline=[])
        assert len(dataset) == num
        values = set()
        for i in range(num):
            label = _read_label(dataset.get_data_info(i)['seg_map_path'])
            assert label.shape == (360, 480)
            values |= set(np.unique(label).tolist())
        assert values <= set(range(12)), sorted(values)
        assert VOID in values
    # through the test pipeline: full resolution, void as 255
    raw = _read_label(dataset.get_data_info(0)['seg_map_path'])
    gt = _build('val', REAL_ROOT)[0]['data_samples'].gt_sem_seg.data
    np.testing.assert_array_equal(
        gt.squeeze(0).numpy(), np.where(raw == VOID, 255, raw))
