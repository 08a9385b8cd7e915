"""Deterministic tiny "shapes" datasets in the real COCO / ADE20K / ImageNet /
CIFAR-100 layouts.

The datasets exist for demos, smoke trainings and unit tests: the archives
(and any model hub) cannot be downloaded here, yet the upstream mmdet /
mmsegmentation / mmpretrain configs should run unchanged apart from
``data_root``.

Each image shows 1-4 filled, coloured shapes (circle, axis-aligned or rotated
square, triangle) on a textured background (smooth noise, stripes or a
gradient).  Shapes are large (diameter / side >= ~1/5 of the shorter image
side) and mostly inside the image.  Later shapes occlude earlier ones; a
placement that would hide too much of an earlier shape is re-drawn, and any
instance whose visible area still ends up tiny is not annotated.

Annotation conventions:

* COCO (:func:`make_coco_shapes`): every instance's ``segmentation`` is the
  compressed RLE (``{'size': [h, w], 'counts': str}``, as produced by
  ``pycocotools.mask.encode``) of its *visible* mask; ``bbox`` is the tight
  ``[x, y, w, h]`` box of that mask and ``area`` its pixel count.  Category ids
  are 1..3 for :data:`SHAPE_CLASSES`.  mmdet's ``LoadAnnotations`` decodes RLE
  with its default ``poly2mask=True``.
* ADE20K (:func:`make_ade20k_shapes`): single-channel uint8 PNGs with
  ADE20K's raw values, meant for ``reduce_zero_label=True``: ``0`` = unlabeled
  (a 1-pixel ring along each visible shape's contour where it meets another
  segment, when ``ignore_boundary`` is true; nothing else), ``1`` =
  background, ``2``/``3``/``4`` = circle/square/triangle.  After
  ``reduce_zero_label`` these become 255 (ignored) and 0..3, the indices of
  :data:`SEG_CLASSES`.
* Classification (:func:`make_imagenet_shapes`, :func:`make_cifar_shapes`):
  one larger shape per image (diameter / side 0.4-0.8 of the shorter side),
  of a class drawn uniformly; the label is its :data:`SHAPE_CLASSES` index.
  Colours and backgrounds are drawn as for the other layouts, so only the
  outline tells the classes apart. (A label over several shapes, such as the
  class of the largest one, was tried first: at 64 px a small ResNet
  memorised 500 such images without learning the rule.)

Generation uses only numpy and Pillow with a seeded
``numpy.random.default_rng``; identical arguments give byte-identical files.
"""
import hashlib
import json
import os
import os.path as osp
import pickle
from typing import (Dict, List, NamedTuple, Optional, Sequence, Tuple,
                    Union)

import numpy as np
from PIL import Image

SHAPE_CLASSES: Tuple[str, ...] = ('circle', 'square', 'triangle')
SEG_CLASSES: Tuple[str, ...] = ('background', ) + SHAPE_CLASSES

ImgSize = Union[int, Sequence[int]]

_JPEG_QUALITY = 95
_MIN_SIZE_RATIO = 0.22  # diameter / side relative to the shorter image side
_MAX_SIZE_RATIO = 0.45
_CLS_SIZE_RATIOS = (0.4, 0.8)  # the one shape of a classification image
_MIN_VISIBLE_FRAC = 0.5  # share of an instance that must stay visible
_MIN_PIXELS = 16  # instances with fewer visible pixels are not annotated
_MAX_TRIES = 30


class _Scene(NamedTuple):
    """One rendered image with its instance map.

    Attributes:
        image (np.ndarray): ``(H, W, 3)`` uint8 RGB image.
        inst_map (np.ndarray): ``(H, W)`` int32, 0 for background and ``k``
            for pixels where instance ``k`` (1-based) is visible.
        labels (list[int]): Class index (into SHAPE_CLASSES) per instance.
        keep (list[bool]): Whether each instance is large enough to annotate.
    """
    image: np.ndarray
    inst_map: np.ndarray
    labels: List[int]
    keep: List[bool]


def _parse_size(img_size: ImgSize) -> Tuple[int, int]:
    """Return ``(h, w)`` from an int or an ``(h, w)`` pair."""
    if isinstance(img_size, (int, np.integer)):
        h = w = int(img_size)
    else:
        h, w = (int(v) for v in img_size)
    if min(h, w) < 32:
        raise ValueError(f'img_size must be >= 32 pixels, got {img_size}')
    return h, w


def _random_colour(rng: np.random.Generator,
                   avoid: Optional[np.ndarray] = None,
                   min_dist: float = 110.) -> np.ndarray:
    """Draw an RGB colour (float, 0..255) far enough from ``avoid``."""
    colour = rng.uniform(0, 255, size=3)
    for _ in range(20):
        if avoid is None or np.linalg.norm(colour - avoid) >= min_dist:
            break
        colour = rng.uniform(0, 255, size=3)
    return colour


def _smooth_noise(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Bilinearly upsampled coarse noise in [0, 1], shape ``(h, w)``."""
    gh, gw = rng.integers(2, 6, size=2)
    coarse = rng.uniform(0, 1, size=(gh, gw))
    ys = np.linspace(0, gh - 1, h)
    xs = np.linspace(0, gw - 1, w)
    y0 = np.minimum(ys.astype(int), gh - 2)
    x0 = np.minimum(xs.astype(int), gw - 2)
    fy = (ys - y0)[:, None]
    fx = (xs - x0)[None, :]
    top = coarse[y0][:, x0] * (1 - fx) + coarse[y0][:, x0 + 1] * fx
    bot = coarse[y0 + 1][:, x0] * (1 - fx) + coarse[y0 + 1][:, x0 + 1] * fx
    return top * (1 - fy) + bot * fy


def _background(rng: np.random.Generator, yy: np.ndarray,
                xx: np.ndarray) -> np.ndarray:
    """Textured ``(H, W, 3)`` float background."""
    h, w = yy.shape
    c0, c1 = _random_colour(rng), _random_colour(rng)
    kind = rng.integers(3)
    theta = rng.uniform(0, np.pi)
    proj = xx * np.cos(theta) + yy * np.sin(theta)
    if kind == 0:  # smooth noise
        t = _smooth_noise(rng, h, w)
    elif kind == 1:  # stripes
        period = rng.uniform(0.08, 0.3) * min(h, w)
        t = 0.5 + 0.5 * np.sin(2 * np.pi * proj / period +
                               rng.uniform(0, 2 * np.pi))
    else:  # linear gradient
        t = (proj - proj.min()) / max(float(np.ptp(proj)), 1e-6)
    bg = c0 * (1 - t[..., None]) + c1 * t[..., None]
    return bg + rng.normal(0, 6, size=(h, w, 3))


def _shape_mask(rng: np.random.Generator,
                label: int,
                yy: np.ndarray,
                xx: np.ndarray,
                size_ratios: Tuple[float, float] = (_MIN_SIZE_RATIO,
                                                    _MAX_SIZE_RATIO)
                ) -> np.ndarray:
    """Boolean mask of one randomly placed shape of class ``label``, its
    diameter / side a ``size_ratios`` fraction of the shorter side."""
    h, w = yy.shape
    short = min(h, w)
    size = rng.uniform(*size_ratios) * short
    # Radius of the bounding circle, used to keep shapes mostly inside.
    if label == 0:
        radius = size / 2
    elif label == 1:
        radius = size / np.sqrt(2)
    else:
        size *= 1.15  # triangles look small at the same side length
        radius = size / np.sqrt(3)
    margin = 0.75 * radius
    cy = rng.uniform(min(margin, h / 2), max(h - margin, h / 2))
    cx = rng.uniform(min(margin, w / 2), max(w - margin, w / 2))
    dy, dx = yy - cy, xx - cx
    if label == 0:
        return dy * dy + dx * dx <= radius * radius
    angle = 0.0 if rng.random() < 0.5 else rng.uniform(0, 2 * np.pi)
    if label == 1:
        cos, sin = np.cos(angle), np.sin(angle)
        u = dx * cos + dy * sin
        v = -dx * sin + dy * cos
        return (np.abs(u) <= size / 2) & (np.abs(v) <= size / 2)
    # Triangle: inside all three half-planes of a (slightly jittered)
    # equilateral triangle.
    angles = angle + np.array([0., 2., 4.]) * np.pi / 3
    angles = angles + rng.uniform(-0.15, 0.15, size=3)
    vx, vy = cx + radius * np.cos(angles), cy + radius * np.sin(angles)
    inside = np.ones((h, w), dtype=bool)
    for i in range(3):
        j = (i + 1) % 3
        # Vertices go by increasing angle, so the interior is on the
        # non-negative side of every edge's cross product.
        cross = ((vx[j] - vx[i]) * (yy - vy[i]) -
                 (vy[j] - vy[i]) * (xx - vx[i]))
        inside &= cross >= 0
    return inside


def _paint_shape(rng: np.random.Generator, image: np.ndarray,
                 mask: np.ndarray, bg_mean: np.ndarray) -> None:
    """Fill the (H, W) ``mask`` of the float (H, W, 3) ``image`` in place
    with a random colour away from ``bg_mean``, shaded by +-6 %."""
    colour = _random_colour(rng, avoid=bg_mean)
    shade = 1 + 0.12 * (_smooth_noise(rng, *mask.shape) - 0.5)
    image[mask] = colour * shade[mask][:, None]


def _render_scene(rng: np.random.Generator, h: int, w: int) -> _Scene:
    """Render one image with 1-4 shapes of random classes, later ones
    occluding earlier ones."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    image = _background(rng, yy, xx)
    bg_mean = image.reshape(-1, 3).mean(0)
    inst_map = np.zeros((h, w), dtype=np.int32)
    full_areas: List[int] = []
    labels: List[int] = []
    for _ in range(int(rng.integers(1, 5))):
        label = int(rng.integers(len(SHAPE_CLASSES)))
        for _ in range(_MAX_TRIES):
            mask = _shape_mask(rng, label, yy, xx)
            if mask.sum() < _MIN_PIXELS:
                continue
            # Re-draw if an earlier instance would become mostly hidden.
            remaining = np.bincount(
                inst_map[~mask], minlength=len(labels) + 1)[1:]
            if all(remaining[k] >= _MIN_VISIBLE_FRAC * full_areas[k]
                   for k in range(len(labels))):
                break
        else:
            continue
        labels.append(label)
        full_areas.append(int(mask.sum()))
        inst_map[mask] = len(labels)
        _paint_shape(rng, image, mask, bg_mean)
    visible = np.bincount(inst_map.ravel(), minlength=len(labels) + 1)[1:]
    keep = [
        int(visible[k]) >= max(_MIN_PIXELS, 0.25 * full_areas[k])
        for k in range(len(labels))
    ]
    image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    return _Scene(image, inst_map, labels, keep)


def _render_labelled_image(rng: np.random.Generator, h: int,
                           w: int) -> Tuple[np.ndarray, int]:
    """Render one classification image: ``(image, label)``, one shape of a
    uniformly drawn class ``label`` on a background."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    image = _background(rng, yy, xx)
    label = int(rng.integers(len(SHAPE_CLASSES)))
    mask = _shape_mask(rng, label, yy, xx, _CLS_SIZE_RATIOS)
    _paint_shape(rng, image, mask, image.reshape(-1, 3).mean(0))
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), label


def _split_rng(seed: int, split: int) -> np.random.Generator:
    """Independent generator per (seed, split)."""
    return np.random.default_rng([int(seed), split])


def _save_jpeg(image: np.ndarray, path: str) -> None:
    Image.fromarray(image).save(
        path, format='JPEG', quality=_JPEG_QUALITY, subsampling=0)


def encode_rle(mask: np.ndarray) -> Dict[str, object]:
    """Encode a binary mask as COCO compressed RLE.

    Equivalent to ``pycocotools.mask.encode`` (column-major run lengths,
    starting with a run of zeros, LEB128-like string coding) with the counts
    decoded to ``str``.

    Args:
        mask (np.ndarray): ``(H, W)`` binary mask.

    Returns:
        dict: ``{'size': [H, W], 'counts': str}``.
    """
    h, w = mask.shape
    flat = np.asarray(mask, dtype=bool).ravel(order='F')
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], change, [flat.size]))
    runs = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        runs.insert(0, 0)
    chars = []
    for i, run in enumerate(runs):
        x = run - runs[i - 2] if i > 2 else run
        more = True
        while more:
            c = x & 0x1f
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            if more:
                c |= 0x20
            chars.append(chr(c + 48))
    return {'size': [h, w], 'counts': ''.join(chars)}


def _mask_bbox(mask: np.ndarray) -> List[float]:
    """Tight ``[x, y, w, h]`` box of a non-empty mask."""
    ys = np.flatnonzero(mask.any(1))
    xs = np.flatnonzero(mask.any(0))
    return [
        float(xs[0]),
        float(ys[0]),
        float(xs[-1] - xs[0] + 1),
        float(ys[-1] - ys[0] + 1)
    ]


def _write_coco_split(rng: np.random.Generator, num: int, h: int, w: int,
                      img_dir: str, ann_file: str) -> int:
    """Write ``num`` images plus one COCO json; return the instance count."""
    os.makedirs(img_dir, exist_ok=True)
    images, annotations = [], []
    for img_id in range(1, num + 1):
        scene = _render_scene(rng, h, w)
        file_name = f'{img_id:012d}.jpg'
        _save_jpeg(scene.image, osp.join(img_dir, file_name))
        images.append(
            dict(id=img_id, file_name=file_name, width=w, height=h))
        for k, (label, keep) in enumerate(zip(scene.labels, scene.keep)):
            if not keep:
                continue
            mask = scene.inst_map == k + 1
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=img_id,
                    category_id=label + 1,
                    bbox=_mask_bbox(mask),
                    area=float(mask.sum()),
                    iscrowd=0,
                    segmentation=encode_rle(mask)))
    coco = dict(
        info=dict(
            description='mmprotune synthetic shapes (COCO layout)',
            version='1.0'),
        licenses=[],
        images=images,
        annotations=annotations,
        categories=[
            dict(id=i + 1, name=name, supercategory='shape')
            for i, name in enumerate(SHAPE_CLASSES)
        ])
    os.makedirs(osp.dirname(ann_file), exist_ok=True)
    with open(ann_file, 'w', encoding='utf-8') as f:
        json.dump(coco, f, separators=(',', ':'))
    return len(annotations)


def make_coco_shapes(data_root: str,
                     num_train: int = 32,
                     num_val: int = 16,
                     img_size: ImgSize = 128,
                     seed: int = 0) -> Dict[str, object]:
    """Write a tiny shapes detection / instance-seg set in COCO layout.

    Layout: ``train2017/*.jpg``, ``val2017/*.jpg`` and
    ``annotations/instances_{train,val}2017.json`` under ``data_root``.

    Args:
        data_root (str): Output folder (created if missing).
        num_train (int): Number of training images. Defaults to 32.
        num_val (int): Number of validation images. Defaults to 16.
        img_size (int | tuple[int, int]): Side, or ``(h, w)``. Defaults to 128.
        seed (int): Base seed; train and val derive distinct generators.
            Defaults to 0.

    Returns:
        dict: ``data_root``, ``train_img_dir``, ``val_img_dir``,
        ``train_ann_file``, ``val_ann_file``, ``num_train``, ``num_val``,
        ``num_train_instances``, ``num_val_instances`` and ``classes``.
    """
    h, w = _parse_size(img_size)
    out: Dict[str, object] = dict(data_root=data_root)
    for split, (name, num) in enumerate((('train', num_train),
                                         ('val', num_val))):
        img_dir = osp.join(data_root, f'{name}2017')
        ann_file = osp.join(data_root, 'annotations',
                            f'instances_{name}2017.json')
        n_inst = _write_coco_split(
            _split_rng(seed, split), int(num), h, w, img_dir, ann_file)
        out.update({
            f'{name}_img_dir': img_dir,
            f'{name}_ann_file': ann_file,
            f'num_{name}': int(num),
            f'num_{name}_instances': n_inst
        })
    out['classes'] = SHAPE_CLASSES
    return out


def _ade_label_map(scene: _Scene, ignore_boundary: bool) -> np.ndarray:
    """Raw ADE20K-style label map (0 unlabeled, 1 background, 2.. shapes)."""
    lut = np.array([1] + [label + 2 for label in scene.labels], dtype=np.uint8)
    seg = lut[scene.inst_map]
    if ignore_boundary:
        inst = scene.inst_map
        edge = np.zeros(inst.shape, dtype=bool)
        edge[1:] |= inst[1:] != inst[:-1]
        edge[:-1] |= inst[:-1] != inst[1:]
        edge[:, 1:] |= inst[:, 1:] != inst[:, :-1]
        edge[:, :-1] |= inst[:, :-1] != inst[:, 1:]
        seg[edge & (inst > 0)] = 0
    return seg


def make_ade20k_shapes(data_root: str,
                       num_train: int = 32,
                       num_val: int = 16,
                       img_size: ImgSize = 128,
                       seed: int = 0,
                       ignore_boundary: bool = True) -> Dict[str, object]:
    """Write a tiny shapes semantic segmentation set in ADE20K layout.

    Layout: ``images/{training,validation}/*.jpg`` and
    ``annotations/{training,validation}/*.png`` (same stems) under
    ``data_root``.  PNG values: 0 unlabeled, 1 background, 2..4 circle /
    square / triangle, i.e. :data:`SEG_CLASSES` indices after
    ``reduce_zero_label=True``.

    Args:
        data_root (str): Output folder (created if missing).
        num_train (int): Number of training images. Defaults to 32.
        num_val (int): Number of validation images. Defaults to 16.
        img_size (int | tuple[int, int]): Side, or ``(h, w)``. Defaults to 128.
        seed (int): Base seed; train and val derive distinct generators.
            Defaults to 0.
        ignore_boundary (bool): Mark the 1-pixel inner contour of each shape
            (where it meets another segment) as 0 = unlabeled. Defaults to
            True.

    Returns:
        dict: ``data_root``, ``train_img_dir``, ``val_img_dir``,
        ``train_ann_dir``, ``val_ann_dir``, ``num_train``, ``num_val`` and
        ``classes``.
    """
    h, w = _parse_size(img_size)
    out: Dict[str, object] = dict(data_root=data_root)
    for split, (name, folder, tag, num) in enumerate(
        (('train', 'training', 'train', num_train),
         ('val', 'validation', 'val', num_val))):
        img_dir = osp.join(data_root, 'images', folder)
        ann_dir = osp.join(data_root, 'annotations', folder)
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(ann_dir, exist_ok=True)
        rng = _split_rng(seed, split)
        for i in range(1, int(num) + 1):
            scene = _render_scene(rng, h, w)
            stem = f'ADE_{tag}_{i:08d}'
            _save_jpeg(scene.image, osp.join(img_dir, stem + '.jpg'))
            Image.fromarray(_ade_label_map(scene, ignore_boundary)).save(
                osp.join(ann_dir, stem + '.png'))
        out.update({
            f'{name}_img_dir': img_dir,
            f'{name}_ann_dir': ann_dir,
            f'num_{name}': int(num)
        })
    out['classes'] = SEG_CLASSES
    return out


def make_imagenet_shapes(data_root: str,
                         num_train: int = 32,
                         num_val: int = 16,
                         img_size: ImgSize = 128,
                         seed: int = 0) -> Dict[str, object]:
    """Write a tiny shapes classification set in the ImageNet layout of
    mmpretrain's ``ImageNet`` / ``CustomDataset`` (with annotation files).

    Layout under ``data_root``: ``{train,val}/shapes_{train,val}_<i>.JPEG``
    and ``meta/{train,val}.txt`` with one ``file label`` line per image
    (paths relative to ``train/`` or ``val/``, as ImageNet's). Each image
    shows one shape, its :data:`SHAPE_CLASSES` index the label (see the
    module docstring; the classes are drawn uniformly).

    Args:
        data_root (str): Output folder (created if missing).
        num_train (int): Number of training images. Defaults to 32.
        num_val (int): Number of validation images. Defaults to 16.
        img_size (int | tuple[int, int]): Side, or ``(h, w)``. Defaults to 128.
        seed (int): Base seed; train and val derive distinct generators.
            Defaults to 0.

    Returns:
        dict: ``data_root``, ``train_img_dir``, ``val_img_dir``,
        ``train_ann_file``, ``val_ann_file``, ``num_train``, ``num_val``,
        ``train_labels``, ``val_labels`` (list of int, in file order) and
        ``classes``.
    """
    h, w = _parse_size(img_size)
    out: Dict[str, object] = dict(data_root=data_root)
    os.makedirs(osp.join(data_root, 'meta'), exist_ok=True)
    for split, (name, num) in enumerate((('train', num_train),
                                         ('val', num_val))):
        img_dir = osp.join(data_root, name)
        ann_file = osp.join(data_root, 'meta', f'{name}.txt')
        os.makedirs(img_dir, exist_ok=True)
        rng = _split_rng(seed, split)
        lines, labels = [], []
        for i in range(1, int(num) + 1):
            image, label = _render_labelled_image(rng, h, w)
            rel_path = f'shapes_{name}_{i:08d}.JPEG'
            _save_jpeg(image, osp.join(img_dir, rel_path))
            lines.append(f'{rel_path} {label}\n')
            labels.append(label)
        with open(ann_file, 'w', encoding='utf-8') as f:
            f.writelines(lines)
        out.update({
            f'{name}_img_dir': img_dir,
            f'{name}_ann_file': ann_file,
            f'num_{name}': int(num),
            f'{name}_labels': labels
        })
    out['classes'] = SHAPE_CLASSES
    return out


def make_cifar_shapes(data_root: str,
                      num_train: int = 32,
                      num_val: int = 16,
                      seed: int = 0) -> Dict[str, object]:
    """Write a tiny 32x32 shapes classification set in the python-pickle
    layout of CIFAR-100 (``cifar-100-python.tar.gz`` extracted), as
    mmpretrain's ``CIFAR100`` reads it.

    Files under ``data_root/cifar-100-python``: ``train`` and ``test``
    (pickled dicts with ``data``: ``(N, 3072)`` uint8 rows of the R, G and B
    planes, ``fine_labels``, ``coarse_labels``, ``filenames`` and
    ``batch_label``) and ``meta`` (``fine_label_names``: the 3
    :data:`SHAPE_CLASSES`, ``coarse_label_names``: ``['shape']``). The fine
    label is the class of the image's one shape; the validation images
    form the ``test`` split, as in CIFAR.

    mmpretrain's ``CIFAR100`` checks the files against the MD5 sums of the
    real archive before it reads them (and downloads the archive if they
    differ); the returned ``md5`` lets a test point that check at these files.

    Args:
        data_root (str): Output folder (created if missing).
        num_train (int): Number of training images. Defaults to 32.
        num_val (int): Number of ``test`` images. Defaults to 16.
        seed (int): Base seed; train and test derive distinct generators.
            Defaults to 0.

    Returns:
        dict: ``data_root``, ``num_train``, ``num_val``, ``train_labels``,
        ``val_labels`` (list of int), ``md5`` (``{file name: md5 hex}`` of
        ``train``, ``test`` and ``meta``) and ``classes``.
    """
    folder = osp.join(data_root, 'cifar-100-python')
    os.makedirs(folder, exist_ok=True)
    out: Dict[str, object] = dict(data_root=data_root)
    md5: Dict[str, str] = {}
    for split, (name, file_name, num) in enumerate(
        (('train', 'train', num_train), ('val', 'test', num_val))):
        rng = _split_rng(seed, split)
        images, labels = [], []
        num = int(num)
        for _ in range(num):
            image, label = _render_labelled_image(rng, 32, 32)
            images.append(image.transpose(2, 0, 1).reshape(-1))
            labels.append(label)
        entry = dict(
            filenames=[f'shapes_{file_name}_{i}.png' for i in range(num)],
            batch_label=f'{file_name} batch 1 of 1',
            fine_labels=labels,
            coarse_labels=[0] * len(labels),
            data=np.asarray(images, dtype=np.uint8).reshape(-1, 3072))
        md5[file_name] = _write_pickle(entry, osp.join(folder, file_name))
        out.update({f'num_{name}': num, f'{name}_labels': labels})
    md5['meta'] = _write_pickle(
        dict(
            fine_label_names=list(SHAPE_CLASSES),
            coarse_label_names=['shape']), osp.join(folder, 'meta'))
    out.update(md5=md5, classes=SHAPE_CLASSES)
    return out


def _write_pickle(obj: dict, path: str) -> str:
    """Pickle ``obj`` to ``path``; return the file's MD5 hex digest."""
    data = pickle.dumps(obj, protocol=2)
    with open(path, 'wb') as f:
        f.write(data)
    return hashlib.md5(data).hexdigest()
