"""Tests for the synthetic COCO / ADE20K / ImageNet / CIFAR-100 shapes
generators."""
import copy
import json
import pickle
from pathlib import Path
from typing import Tuple

import numpy as np
import pytest
from PIL import Image

from mmprotune.datasets import (SEG_CLASSES, SHAPE_CLASSES, make_ade20k_shapes,
                                make_cifar_shapes, make_coco_shapes,
                                make_imagenet_shapes)
from mmprotune.datasets.synthetic_shapes import encode_rle

NUM_TRAIN, NUM_VAL, SIZE = 6, 3, 64
PALETTE = [[120, 120, 120], [220, 20, 60], [0, 128, 0], [0, 0, 255]]


@pytest.fixture(scope='module')
def coco_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('coco')
    make_coco_shapes(str(root), NUM_TRAIN, NUM_VAL, SIZE, seed=3)
    return root


@pytest.fixture(scope='module')
def ade_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('ade')
    make_ade20k_shapes(str(root), NUM_TRAIN, NUM_VAL, SIZE, seed=3)
    return root


@pytest.fixture(scope='module')
def imagenet_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('imagenet')
    info = make_imagenet_shapes(str(root), NUM_TRAIN, NUM_VAL, SIZE, seed=3)
    return root, info


@pytest.fixture(scope='module')
def cifar_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('cifar')
    info = make_cifar_shapes(str(root), NUM_TRAIN, NUM_VAL, seed=3)
    return root, info


def _files(root: Path) -> dict:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob('*')) if p.is_file()
    }


def test_classes():
    assert SHAPE_CLASSES == ('circle', 'square', 'triangle')
    assert SEG_CLASSES == ('background', 'circle', 'square', 'triangle')


def test_encode_rle_matches_pycocotools():
    mask_utils = pytest.importorskip('pycocotools.mask')
    rng = np.random.default_rng(0)
    masks = [
        np.zeros((7, 5), np.uint8),
        np.ones((7, 5), np.uint8),
        (rng.random((40, 33)) > 0.5).astype(np.uint8),
        (rng.random((64, 64)) > 0.97).astype(np.uint8),
    ]
    masks[2][0, 0] = 1  # starts with a run of ones
    for mask in masks:
        ref = mask_utils.encode(np.asfortranarray(mask))
        ours = encode_rle(mask)
        assert ours['counts'] == ref['counts'].decode()
        assert ours['size'] == list(ref['size'])
        np.testing.assert_array_equal(mask_utils.decode(ours), mask)


def test_coco_layout_and_masks(coco_root):
    coco_mod = pytest.importorskip('pycocotools.coco')
    mask_utils = pytest.importorskip('pycocotools.mask')
    for split, num in (('train', NUM_TRAIN), ('val', NUM_VAL)):
        coco = coco_mod.COCO(
            str(coco_root / 'annotations' / f'instances_{split}2017.json'))
        assert len(coco.getImgIds()) == num
        assert [c['name'] for c in coco.loadCats(coco.getCatIds())
                ] == list(SHAPE_CLASSES)
        for img_id in coco.getImgIds():
            info = coco.loadImgs(img_id)[0]
            img = Image.open(coco_root / f'{split}2017' / info['file_name'])
            assert img.mode == 'RGB'
            assert img.size == (info['width'], info['height']) == (SIZE, SIZE)
            anns = coco.loadAnns(coco.getAnnIds(imgIds=img_id))
            assert 1 <= len(anns) <= 4
            for ann in anns:
                assert ann['category_id'] in (1, 2, 3)
                assert ann['iscrowd'] == 0
                mask = coco.annToMask(ann)
                ys, xs = np.nonzero(mask)
                extent = [
                    xs.min(),
                    ys.min(),
                    xs.max() - xs.min() + 1,
                    ys.max() - ys.min() + 1
                ]
                np.testing.assert_allclose(ann['bbox'], extent, atol=1)
                assert ann['area'] == mask.sum()
                np.testing.assert_allclose(
                    mask_utils.toBbox(ann['segmentation']), ann['bbox'])
                # Objects are large: at least ~1/5 of the side.
                assert max(ann['bbox'][2:]) >= 0.1 * SIZE


def test_mmdet_coco_dataset(coco_root):
    pytest.importorskip('mmdet')
    from mmdet.datasets import CocoDataset
    from mmdet.datasets.transforms import LoadAnnotations
    from mmdet.utils import register_all_modules
    register_all_modules()
    dataset = CocoDataset(
        data_root=str(coco_root),
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/'),
        metainfo=dict(classes=SHAPE_CLASSES),
        pipeline=[],
        test_mode=False)
    assert len(dataset) == NUM_TRAIN
    raw = json.loads(
        (coco_root / 'annotations/instances_train2017.json').read_text())
    loader = LoadAnnotations(with_bbox=True, with_label=True, with_mask=True)
    for idx in range(len(dataset)):
        info = dataset.get_data_info(idx)
        assert info['img_path'].startswith(str(coco_root / 'train2017'))
        anns = [
            a for a in raw['annotations'] if a['image_id'] == info['img_id']
        ]
        labels = [inst['bbox_label'] for inst in info['instances']]
        assert labels == [a['category_id'] - 1 for a in anns]
        results = copy.deepcopy(info)
        results['ori_shape'] = (info['height'], info['width'])
        results = loader(results)
        masks = results['gt_masks'].masks
        assert masks.shape == (len(anns), SIZE, SIZE)
        assert [int(m.sum()) for m in masks] == [a['area'] for a in anns]
        np.testing.assert_array_equal(results['gt_bboxes_labels'], labels)


def test_ade20k_layout(ade_root):
    for folder, tag, num in (('training', 'train', NUM_TRAIN),
                             ('validation', 'val', NUM_VAL)):
        imgs = sorted((ade_root / 'images' / folder).glob('*.jpg'))
        segs = sorted((ade_root / 'annotations' / folder).glob('*.png'))
        assert len(imgs) == len(segs) == num
        assert [p.stem for p in imgs] == [p.stem for p in segs]
        assert imgs[0].stem == f'ADE_{tag}_00000001'
        for seg_path in segs:
            seg = Image.open(seg_path)
            assert seg.mode == 'L' and seg.size == (SIZE, SIZE)
            values = set(np.unique(np.asarray(seg)).tolist())
            assert values <= {0, 1, 2, 3, 4}
            assert 1 in values and values & {2, 3, 4}


def test_mmseg_dataset(ade_root):
    pytest.importorskip('mmseg')
    from mmseg.datasets import BaseSegDataset
    from mmseg.datasets.transforms import LoadAnnotations
    dataset = BaseSegDataset(
        data_root=str(ade_root),
        data_prefix=dict(
            img_path='images/training', seg_map_path='annotations/training'),
        img_suffix='.jpg',
        seg_map_suffix='.png',
        reduce_zero_label=True,
        metainfo=dict(classes=SEG_CLASSES, palette=PALETTE),
        pipeline=[])
    assert len(dataset) == NUM_TRAIN
    loader = LoadAnnotations(reduce_zero_label=True)
    seen = set()
    for idx in range(len(dataset)):
        results = loader(copy.deepcopy(dataset.get_data_info(idx)))
        seg = results['gt_seg_map']
        assert seg.shape == (SIZE, SIZE)
        seen |= set(np.unique(seg).tolist())
    assert seen <= {0, 1, 2, 3, 255}
    assert {0, 255} <= seen and seen & {1, 2, 3}


def test_imagenet_layout_and_labels(imagenet_root):
    pytest.importorskip('mmpretrain')
    from mmpretrain.datasets import ImageNet
    root, info = imagenet_root
    for split, num in (('train', NUM_TRAIN), ('val', NUM_VAL)):
        dataset = ImageNet(data_root=str(root), split=split, pipeline=[])
        assert len(dataset) == num
        labels = [dataset.get_data_info(i)['gt_label'] for i in range(num)]
        assert labels == info[f'{split}_labels']
        for i in range(num):
            img = Image.open(dataset.get_data_info(i)['img_path'])
            assert img.mode == 'RGB' and img.size == (SIZE, SIZE)
    labels = set(info['train_labels']) | set(info['val_labels'])
    assert labels <= {0, 1, 2} and len(labels) > 1


def _read_shape(image: np.ndarray) -> Tuple[int, float]:
    """Read the class of an image's one shape from its pixels alone:
    ``(class, fill)``. The shape is one colour (+-6 % shading) that the
    border lacks: of the colours of every 7th pixel, the one shared by most
    pixels and by almost none of the border's. The share of its bounding
    circle it fills (``fill``) tells the class: a circle all of it, a square
    2 / pi = 0.64, an equilateral triangle 3 sqrt(3) / (4 pi) = 0.41; a fill
    far below (a background patch taken for the shape) reads nothing."""
    h, w = image.shape[:2]
    pixels = image.astype(np.float64).reshape(-1, 3)
    near = np.linalg.norm(pixels[None] - pixels[::7, None], axis=-1) < 30
    yy, xx = np.divmod(np.arange(h * w), w)
    border = (yy == 0) | (yy == h - 1) | (xx == 0) | (xx == w - 1)
    mask = near[np.argmax(near.sum(1) * (near[:, border].mean(1) < 0.02))]
    ys, xs = yy[mask], xx[mask]
    radius = np.hypot(ys - ys.mean(), xs - xs.mean()).max() + 0.5
    fill = mask.sum() / (np.pi * radius**2)
    return int(np.argmin(np.abs(fill - np.array([1.0, 0.64, 0.41])))), fill


@pytest.mark.slow
def test_classification_labels_follow_the_rule(tmp_path, cifar_root):
    """The label is the class of the image's one shape, read back from the
    pixels of 90 images, and the classes are drawn about equally often."""
    info = make_imagenet_shapes(str(tmp_path), 60, 30, SIZE, seed=3)
    read, labels = [], []
    for split in ('train', 'val'):
        with open(tmp_path / 'meta' / f'{split}.txt') as f:
            for line in f:
                path, label = line.split()
                read.append(_read_shape(
                    np.asarray(Image.open(tmp_path / split / path))))
                labels.append(int(label))
    assert labels == info['train_labels'] + info['val_labels']
    found = [(cls, label) for (cls, fill), label in zip(read, labels)
             if fill > 0.3]
    assert len(found) >= 0.6 * len(labels)
    assert np.mean([cls == label for cls, label in found]) >= 0.95
    assert min(np.bincount(labels, minlength=3)) >= 0.2 * len(labels)
    _, cifar = cifar_root
    assert set(cifar['train_labels'] + cifar['val_labels']) == {0, 1, 2}


def test_cifar100_layout(cifar_root, monkeypatch):
    """mmpretrain's CIFAR100 reads the files (its MD5 check of the real
    archive pointed at these files) and yields the images and labels."""
    pytest.importorskip('mmpretrain')
    from mmpretrain.datasets import CIFAR100
    root, info = cifar_root
    md5 = info['md5']
    monkeypatch.setattr(CIFAR100, 'train_list', [['train', md5['train']]])
    monkeypatch.setattr(CIFAR100, 'test_list', [['test', md5['test']]])
    monkeypatch.setattr(CIFAR100, 'meta',
                        dict(CIFAR100.meta, md5=md5['meta']))
    for split, name, num in (('train', 'train', NUM_TRAIN),
                             ('test', 'val', NUM_VAL)):
        dataset = CIFAR100(
            data_root=str(root), split=split, download=False, pipeline=[])
        assert len(dataset) == num
        assert [dataset.get_data_info(i)['gt_label']
                for i in range(num)] == info[f'{name}_labels']
        img = dataset.get_data_info(0)['img']
        assert img.shape == (32, 32, 3) and img.dtype == np.uint8
        assert img.std() > 10  # a picture, not a constant
    with open(root / 'cifar-100-python' / 'meta', 'rb') as f:
        meta = pickle.load(f)
    assert meta['fine_label_names'] == list(SHAPE_CLASSES)


@pytest.mark.parametrize(
    'make', [make_coco_shapes, make_ade20k_shapes, make_imagenet_shapes])
def test_determinism(tmp_path, make):
    kwargs = dict(num_train=4, num_val=2, img_size=(48, 64))
    make(str(tmp_path / 'a'), seed=7, **kwargs)
    make(str(tmp_path / 'b'), seed=7, **kwargs)
    make(str(tmp_path / 'c'), seed=8, **kwargs)
    files_a, files_b = _files(tmp_path / 'a'), _files(tmp_path / 'b')
    files_c = _files(tmp_path / 'c')
    assert len(files_a) > 0 and files_a == files_b
    assert files_a.keys() == files_c.keys()
    assert all(files_a[k] != files_c[k] for k in files_a
               if k.lower().endswith(('.jpg', '.jpeg')))
    # Train and val come from different generators.
    jpgs = sorted(k for k in files_a if k.lower().endswith(('.jpg', '.jpeg')))
    assert files_a[jpgs[0]] != files_a[jpgs[-1]]
    img = Image.open(tmp_path / 'a' / jpgs[0])
    assert img.size == (64, 48)


def test_generation_is_fast(tmp_path):
    import time
    start = time.perf_counter()
    make_coco_shapes(str(tmp_path / 'coco'), 32, 16, 128)
    assert time.perf_counter() - start < 10


@pytest.mark.slow
@pytest.mark.parametrize('fmt,probe', [
    ('coco', 'annotations/instances_val2017.json'),
    ('ade20k', 'annotations/validation/ADE_val_00000002.png'),
])
def test_cli(tmp_path, tool, fmt, probe):
    out_dir = tmp_path / fmt
    rc, out = tool('tools/misc/make_synthetic_data.py', fmt, out_dir,
                   '--num-train', '3', '--num-val', '2', '--size', '40',
                   '--seed', '1')
    assert rc == 0, out
    assert str(out_dir) in out
    assert (out_dir / probe).is_file()
