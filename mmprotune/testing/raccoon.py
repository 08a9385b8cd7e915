"""A tiny folder in the raccoon set's layout (:func:`make_raccoon`) for tests
of :mod:`mmprotune.datasets.raccoon` and of detectors trained on it."""
import csv
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import List, Tuple, Union

import numpy as np
from PIL import Image

#: Colour of the boxes drawn as filled rectangles (the "raccoons").
BOX_COLOUR = (200, 40, 40)
#: Range of the image sides, in pixels.
SIDES = (64, 160)
#: Header of the split CSVs, as in the real set.
CSV_FIELDS = ('filename', 'width', 'height', 'class', 'xmin', 'ymin', 'xmax',
              'ymax')

Box = Tuple[int, int, int, int]


def _boxes(rng: np.random.Generator, width: int, height: int) -> List[Box]:
    """One or two boxes, 1-based inclusive ``(xmin, ymin, xmax, ymax)``,
    each in its own column of the image, at least a quarter of it in each
    direction."""
    num = int(rng.integers(1, 3))
    boxes = []
    for column in range(num):
        left, right = width * column // num, width * (column + 1) // num
        box_w = int(rng.integers((right - left) // 4, (right - left) * 3 // 4))
        box_h = int(rng.integers(height // 4, height * 3 // 4))
        x0 = int(rng.integers(left, right - box_w + 1))
        y0 = int(rng.integers(0, height - box_h + 1))
        boxes.append((x0 + 1, y0 + 1, x0 + box_w, y0 + box_h))
    return boxes


def _image(rng: np.random.Generator, width: int, height: int,
           boxes: List[Box]) -> Image.Image:
    """Grey noise with each box a filled :data:`BOX_COLOUR` rectangle."""
    pixels = rng.normal(110, 35, (height, width, 3)).clip(0, 255)
    pixels = pixels.astype(np.uint8)
    for xmin, ymin, xmax, ymax in boxes:
        pixels[ymin - 1:ymax, xmin - 1:xmax] = BOX_COLOUR
    return Image.fromarray(pixels)


def _voc_xml(file_name: str, width: int, height: int,
             boxes: List[Box]) -> ET.ElementTree:
    """A Pascal VOC annotation, element for element as the real set's."""
    root = ET.Element('annotation', verified='yes')
    ET.SubElement(root, 'folder').text = 'images'
    ET.SubElement(root, 'filename').text = file_name
    ET.SubElement(root, 'path').text = f'images/{file_name}'
    ET.SubElement(ET.SubElement(root, 'source'), 'database').text = 'Unknown'
    size = ET.SubElement(root, 'size')
    for key, value in (('width', width), ('height', height), ('depth', 3)):
        ET.SubElement(size, key).text = str(value)
    ET.SubElement(root, 'segmented').text = '0'
    for box in boxes:
        obj = ET.SubElement(root, 'object')
        for key, value in (('name', 'raccoon'), ('pose', 'Unspecified'),
                           ('truncated', '0'), ('difficult', '0')):
            ET.SubElement(obj, key).text = value
        bndbox = ET.SubElement(obj, 'bndbox')
        for key, value in zip(CSV_FIELDS[4:], box):
            ET.SubElement(bndbox, key).text = str(value)
    tree = ET.ElementTree(root)
    ET.indent(tree, '\t')
    return tree


def make_raccoon(root: Union[str, Path],
                 num_train: int = 6,
                 num_test: int = 3,
                 seed: int = 0) -> Path:
    """Write a raccoon-layout folder under ``root``: ``images/raccoon-<i>.jpg``
    for ``i`` in 1..``num_train + num_test``, each ``annotations/
    raccoon-<i>.xml`` (Pascal VOC, as the real set's), and the split CSVs
    ``data/train_labels.csv`` and ``data/test_labels.csv`` (one row per box,
    images in a seeded random order, as the real ones).

    Each image is 64-160 px wide and high, independently: grey noise with
    one or two boxes drawn as filled :data:`BOX_COLOUR` rectangles (the
    boxes' pixels exactly, 1-based inclusive corners), which a detector can
    learn. Returns ``root``."""
    root = Path(root)
    for folder in ('images', 'annotations', 'data'):
        (root / folder).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = {}
    for i in range(1, num_train + num_test + 1):
        name = f'raccoon-{i}'
        width, height = rng.integers(*SIDES, 2, endpoint=True).tolist()
        boxes = _boxes(rng, width, height)
        _image(rng, width, height, boxes).save(
            root / 'images' / f'{name}.jpg', quality=95)
        _voc_xml(f'{name}.jpg', width, height, boxes).write(
            root / 'annotations' / f'{name}.xml', encoding='unicode')
        rows[i] = [(f'{name}.jpg', width, height, 'raccoon', *box)
                   for box in boxes]
    order = rng.permutation(num_train + num_test) + 1
    splits = dict(train=order[:num_train], test=order[num_train:])
    for split, indices in splits.items():
        with open(root / 'data' / f'{split}_labels.csv', 'w', newline='') as f:
            writer = csv.writer(f)
            writer.writerow(CSV_FIELDS)
            for i in indices:
                writer.writerows(rows[i])
    return root
