"""The raccoon detection set (Dat Tran, 2017, MIT licence) in Pascal VOC XML,
converted to COCO JSON for mmdet's ``CocoDataset`` and ``CocoMetric``.

Layout::

    data/raccoon
    ├── images/        raccoon-<i>.jpg, 200 JPEGs, 178-2000 px wide
    ├── annotations/   raccoon-<i>.xml, one Pascal VOC XML per image
    └── data/          train_labels.csv (160 images), test_labels.csv (40)

The CSVs (one row per box) give only the split: the set of their
``filename`` column. The boxes come from the XMLs.

Conventions, each checked on every file (a :class:`ValueError` names the
file, the box or value, and what is allowed; nothing is clipped or dropped):

- **Boxes**: VOC corners are 1-based and inclusive (``xmin`` is the box's
  first pixel column, ``xmax`` its last); COCO's ``[x, y, w, h]`` is in
  pixel coordinates whose origin is the image's top-left corner, the box
  ending at ``x + w`` (mmdet's ``x2``). So ``x = xmin - 1``,
  ``y = ymin - 1``, ``w = xmax - xmin + 1``, ``h = ymax - ymin + 1``: a box
  over a whole W x H image is ``[0, 0, W, H]``. A box must lie in its image,
  ``1 <= xmin <= xmax <= width`` and ``1 <= ymin <= ymax <= height``, with
  no tolerance.
- **Sizes**: the XML's ``size`` must be the image's size (read from the
  image file's header).
- **EXIF orientation**: refused unless absent or 1. mmdet's image loader
  (OpenCV) applies it, PIL's size and the boxes do not, so a rotated image
  would get boxes of the unrotated one.
- **Images without objects** are kept, with no annotations (negative
  images; mmdet's ``filter_cfg=dict(filter_empty_gt=True)`` leaves them out
  of training).
- **Difficult boxes** (``difficult`` 1) are refused: COCO has no such flag,
  and dropping them or turning them into crowd regions would change what
  is evaluated. A missing ``difficult`` is 0.

The real set passes every check unchanged: 200 images, 217 boxes of class
``raccoon``, all ``difficult`` 0, every XML size equal to its image's, every
box inside (19 start at column 1, 8 end at the last column, none at 0: the
1-based convention), no EXIF rotation, no image in both splits, and the
CSVs' boxes equal to the XMLs'. Three images are greyscale (``depth`` 1);
mmdet loads them as 3-channel images.
"""
import csv
import json
import os.path as osp
import xml.etree.ElementTree as ET
from typing import Dict, List, Sequence, Tuple

from PIL import Image

from ..utils import atomic_write

#: The raccoon set's one class.
RACCOON_CLASSES = ('raccoon', )
#: The splits of :func:`convert_raccoon`, each with its CSV
#: ``data/<split>_labels.csv``.
RACCOON_SPLITS = ('train', 'test')
#: The EXIF tag of the orientation.
_ORIENTATION = 0x0112
_CORNERS = ('xmin', 'ymin', 'xmax', 'ymax')


def _read_xml(xml_path: str) -> ET.Element:
    """The ``annotation`` root of a VOC XML file."""
    try:
        root = ET.parse(xml_path).getroot()
    except (OSError, ET.ParseError) as error:
        raise ValueError(
            f'{xml_path}: not a readable XML file ({error})') from None
    if root.tag != 'annotation':
        raise ValueError(f'{xml_path}: the root element is <{root.tag}>, '
                         'a Pascal VOC file has <annotation>')
    return root


def _field(node: ET.Element, path: str, xml_path: str) -> str:
    """The text of the required field ``path`` under ``node``."""
    text = node.findtext(path)
    if text is None or not text.strip():
        raise ValueError(f'{xml_path}: missing <{path}>')
    return text.strip()


def _size(root: ET.Element, xml_path: str) -> Tuple[int, int]:
    """``(width, height)`` of the XML's ``size``: positive integers."""
    size = []
    for key in ('width', 'height'):
        text = _field(root, f'size/{key}', xml_path)
        if not text.isdigit() or int(text) == 0:
            raise ValueError(f'{xml_path}: <size>/<{key}> is {text!r}, '
                             'expected a positive integer')
        size.append(int(text))
    return size[0], size[1]


def _image_size(image_path: str, xml_path: str) -> Tuple[int, int]:
    """``(width, height)`` of an image from its header, refusing one that
    is missing or that its EXIF orientation rotates or mirrors."""
    if not osp.isfile(image_path):
        raise ValueError(f'{xml_path}: its image {image_path} is missing')
    try:
        with Image.open(image_path) as image:
            orientation = image.getexif().get(_ORIENTATION, 1)
            size = image.size
    except OSError as error:
        raise ValueError(f'{xml_path}: its image {image_path} cannot be '
                         f'read ({error})') from None
    if orientation != 1:
        raise ValueError(
            f'{xml_path}: its image {image_path} has EXIF orientation '
            f'{orientation}, which mmdet applies and the boxes do not; '
            'allowed: none or 1 (save the image without it)')
    return size


def _image(root: ET.Element, image_dir: str, xml_path: str) -> dict:
    """``file_name``, ``width`` and ``height`` of an XML's image, its
    ``size`` checked against the image file's."""
    file_name = _field(root, 'filename', xml_path)
    size = _size(root, xml_path)
    real_size = _image_size(osp.join(image_dir, file_name), xml_path)
    if size != real_size:
        raise ValueError(
            f'{xml_path}: <size> is {size[0]} x {size[1]}, its image '
            f'{file_name} is {real_size[0]} x {real_size[1]}; they must be '
            'equal')
    return dict(file_name=file_name, width=size[0], height=size[1])


def _box(obj: ET.Element, name: str, xml_path: str) -> List[float]:
    """The ``[xmin, ymin, xmax, ymax]`` numbers of an object's box."""
    box = []
    for key in _CORNERS:
        text = _field(obj, f'bndbox/{key}', xml_path)
        try:
            box.append(float(text))
        except ValueError:
            raise ValueError(f'{xml_path}: {name}: <bndbox>/<{key}> is '
                             f'{text!r}, expected a number') from None
    return box


def _check_difficult(obj: ET.Element, name: str, xml_path: str) -> None:
    """Refuse a difficult object (``difficult`` other than 0)."""
    difficult = (obj.findtext('difficult') or '0').strip()
    if difficult != '0':
        raise ValueError(
            f'{xml_path}: {name} has <difficult> {difficult!r}; allowed: 0 '
            '(difficult boxes are not supported: COCO has no such flag)')


def _check_box(box: List[float], width: int, height: int, name: str,
               xml_path: str) -> None:
    """Refuse a box that is empty or not inside its ``width`` x ``height``
    image (1-based inclusive corners)."""
    xmin, ymin, xmax, ymax = box
    if not (1 <= xmin <= xmax <= width and 1 <= ymin <= ymax <= height):
        corners = ', '.join(f'{k}={v:g}' for k, v in zip(_CORNERS, box))
        raise ValueError(
            f'{xml_path}: {name} box ({corners}) is empty or not inside the '
            f'{width} x {height} image; allowed: 1 <= xmin <= xmax <= '
            f'{width}, 1 <= ymin <= ymax <= {height} (1-based corners)')


def _coco_bbox(box: Sequence[float]) -> List[float]:
    """COCO ``[x, y, w, h]`` of VOC's 1-based inclusive corners ``[xmin,
    ymin, xmax, ymax]`` (see the module's conventions)."""
    xmin, ymin, xmax, ymax = map(float, box)
    return [xmin - 1, ymin - 1, xmax - xmin + 1, ymax - ymin + 1]


def _objects(root: ET.Element, size: Tuple[int, int], classes: Sequence[str],
             xml_path: str) -> List[Tuple[int, List[float]]]:
    """``(category_id, COCO bbox)`` of each object of an XML, checked."""
    objects = []
    for index, obj in enumerate(root.iter('object'), 1):
        label = _field(obj, 'name', xml_path)
        name = f'object {index} ({label})'
        if label not in classes:
            raise ValueError(f'{xml_path}: {name} has class {label!r}; '
                             f'allowed: {", ".join(classes)}')
        _check_difficult(obj, name, xml_path)
        box = _box(obj, name, xml_path)
        _check_box(box, *size, name, xml_path)
        objects.append((classes.index(label) + 1, _coco_bbox(box)))
    return objects


def voc_to_coco(xml_paths: Sequence[str], image_dir: str,
                classes: Sequence[str]) -> dict:
    """A COCO detection dict of Pascal VOC XML files.

    Images get ids 1..N in the order of ``xml_paths``, annotations ids 1..M
    in file and object order; boxes are converted and checked as the
    module's conventions say.

    Args:
        xml_paths (Sequence[str]): One VOC XML file per image.
        image_dir (str): The folder of the images: an XML's image is
            ``image_dir/<filename>``.
        classes (Sequence[str]): The classes, category ids 1, 2, ... in
            this order; an object of another class is an error.

    Returns:
        dict: ``images`` (``id``, ``file_name``, ``width``, ``height``),
        ``annotations`` (``id``, ``image_id``, ``category_id``, ``bbox``,
        ``area``, ``iscrowd`` 0) and ``categories`` (``id``, ``name``).

    Raises:
        ValueError: A file that breaks a convention, named in the message.
    """
    classes = list(classes)
    coco = dict(
        images=[],
        annotations=[],
        categories=[
            dict(id=i, name=name) for i, name in enumerate(classes, 1)
        ])
    for image_id, xml_path in enumerate(map(str, xml_paths), 1):
        root = _read_xml(xml_path)
        image = _image(root, image_dir, xml_path)
        coco['images'].append(dict(id=image_id, **image))
        size = image['width'], image['height']
        for category_id, bbox in _objects(root, size, classes, xml_path):
            coco['annotations'].append(
                dict(
                    id=len(coco['annotations']) + 1,
                    image_id=image_id,
                    category_id=category_id,
                    bbox=bbox,
                    area=bbox[2] * bbox[3],
                    iscrowd=0))
    return coco


def read_split_csv(csv_path: str) -> List[str]:
    """The file names a split CSV lists (its ``filename`` column), sorted,
    each once."""
    if not osp.isfile(csv_path):
        raise ValueError(f'split file {csv_path} is missing')
    with open(csv_path, newline='') as f:
        reader = csv.DictReader(f)
        if 'filename' not in (reader.fieldnames or []):
            raise ValueError(f'{csv_path}: no filename column (header: '
                             f'{reader.fieldnames})')
        names = sorted({row['filename'] for row in reader})
    if not names:
        raise ValueError(f'{csv_path} lists no images')
    return names


def _split_xmls(data_root: str, csv_path: str, names: List[str]) -> List[str]:
    """The annotation XML of each image a split CSV lists."""
    xml_paths = []
    for name in names:
        xml_path = osp.join(data_root, 'annotations',
                            osp.splitext(name)[0] + '.xml')
        if not osp.isfile(xml_path):
            raise ValueError(f'{csv_path} lists {name}, which has no '
                             f'annotation: {xml_path} is missing')
        xml_paths.append(xml_path)
    return xml_paths


def _convert_split(data_root: str, csv_path: str, names: List[str]) -> dict:
    """The COCO dict of the images ``names`` of a split CSV."""
    xml_paths = _split_xmls(data_root, csv_path, names)
    coco = voc_to_coco(xml_paths, osp.join(data_root, 'images'),
                       RACCOON_CLASSES)
    for name, xml_path, image in zip(names, xml_paths, coco['images']):
        if image['file_name'] != name:
            raise ValueError(f'{xml_path}: <filename> is '
                             f'{image["file_name"]!r}, but {csv_path} lists '
                             f'it as {name!r}')
    return coco


def convert_raccoon(data_root: str, out_dir: str) -> Dict[str, str]:
    """Write the raccoon set's splits as COCO JSON, images in file name
    order.

    Every split is converted and checked before anything is written; each
    file is written atomically.

    Args:
        data_root (str): The set's folder (see the module's layout).
        out_dir (str): Where ``train.json`` and ``test.json`` go, their
            ``file_name`` relative to ``data_root/images``.

    Returns:
        dict: ``{split: path of its JSON}``.

    Raises:
        ValueError: A missing split CSV, an image in both splits, an image
            without its XML, or an XML :func:`voc_to_coco` refuses.
    """
    csv_paths = {
        split: osp.join(data_root, 'data', f'{split}_labels.csv')
        for split in RACCOON_SPLITS
    }
    names = {split: read_split_csv(path) for split, path in csv_paths.items()}
    both = sorted(set.intersection(*map(set, names.values())))
    if both:
        raise ValueError(f'{", ".join(both)}: in both '
                         f'{" and ".join(csv_paths.values())}; each image '
                         'must be in one split')
    splits = {
        split: _convert_split(data_root, csv_paths[split], names[split])
        for split in RACCOON_SPLITS
    }
    paths = {}
    for split, coco in splits.items():
        paths[split] = osp.join(out_dir, f'{split}.json')
        atomic_write(json.dumps(coco), paths[split], encoding='utf-8')
    return paths
