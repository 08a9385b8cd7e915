"""Tests for the raccoon set's Pascal VOC to COCO converter
(:mod:`mmprotune.datasets.raccoon`), on a tiny raccoon-layout folder, on VOC
files written here and (when present) on the real data."""
import csv
import json
import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmprotune.datasets import RACCOON_CLASSES, convert_raccoon, voc_to_coco
from mmprotune.testing import REPO_ROOT, make_raccoon
from mmprotune.testing.raccoon import BOX_COLOUR

REAL_ROOT = Path(
    os.environ.get('MMPROTUNE_RACCOON',
                   os.path.join(REPO_ROOT, '..', 'shared', 'data', 'raccoon')))
SPLITS = dict(train=6, test=3)


@pytest.fixture(scope='module')
def made_root(tmp_path_factory):
    """A raccoon-layout folder of 6 training and 3 test images."""
    return make_raccoon(
        tmp_path_factory.mktemp('raccoon'), **{
            f'num_{split}': num
            for split, num in SPLITS.items()
        })


@pytest.fixture
def root(made_root, tmp_path):
    """A copy of :func:`made_root` that a test may break."""
    return Path(shutil.copytree(made_root, tmp_path / 'raccoon'))


def _split_names(root: Path, split: str) -> set:
    with open(root / 'data' / f'{split}_labels.csv', newline='') as f:
        return {row['filename'] for row in csv.DictReader(f)}


def _xml_boxes(xml_path: Path) -> list:
    """``(xmin, ymin, xmax, ymax)`` of each object of a VOC file."""
    root = ET.parse(xml_path).getroot()
    return [
        tuple(
            int(obj.findtext(f'bndbox/{k}'))
            for k in ('xmin', 'ymin', 'xmax', 'ymax'))
        for obj in root.iter('object')
    ]


def test_convert_raccoon(root, tmp_path):
    out = tmp_path / 'out'
    paths = convert_raccoon(str(root), str(out))
    assert paths == {split: str(out / f'{split}.json') for split in SPLITS}
    for split, num in SPLITS.items():
        coco = json.loads(Path(paths[split]).read_text())
        names = sorted(_split_names(root, split))
        assert len(names) == num
        assert [im['file_name'] for im in coco['images']] == names
        assert [im['id'] for im in coco['images']] == list(range(1, num + 1))
        assert coco['categories'] == [dict(id=1, name='raccoon')]
        expected = []
        for image in coco['images']:
            with Image.open(root / 'images' / image['file_name']) as img:
                assert (image['width'], image['height']) == img.size
            xml_path = root / 'annotations' / image['file_name'].replace(
                '.jpg', '.xml')
            for xmin, ymin, xmax, ymax in _xml_boxes(xml_path):
                w, h = xmax - xmin + 1, ymax - ymin + 1
                expected.append(
                    dict(
                        id=len(expected) + 1,
                        image_id=image['id'],
                        category_id=1,
                        bbox=[xmin - 1, ymin - 1, w, h],
                        area=w * h,
                        iscrowd=0))
        assert coco['annotations'] == expected
        assert 0 < len(expected) <= 2 * num


def test_mmdet_coco_dataset(made_root, tmp_path):
    """mmdet's CocoDataset loads the JSON; each box, as mmdet reads it,
    covers exactly the columns and rows of its drawn rectangle."""
    from mmcv.transforms import LoadImageFromFile
    from mmdet.datasets import CocoDataset
    from mmdet.datasets.transforms import LoadAnnotations
    paths = convert_raccoon(str(made_root), str(tmp_path))
    for split, num in SPLITS.items():
        dataset = CocoDataset(
            data_root=str(made_root),
            ann_file=paths[split],
            data_prefix=dict(img='images/'),
            metainfo=dict(classes=RACCOON_CLASSES),
            pipeline=[LoadImageFromFile(),
                      LoadAnnotations(with_bbox=True)])
        assert len(dataset) == num
        for i in range(num):
            results = dataset[i]
            name = Path(results['img_path']).stem
            boxes = _xml_boxes(made_root / 'annotations' / f'{name}.xml')
            np.testing.assert_array_equal(
                results['gt_bboxes'].tensor.numpy(),
                np.array([(x1 - 1, y1 - 1, x2, y2)
                          for x1, y1, x2, y2 in boxes], np.float32))
            assert results['gt_bboxes_labels'].tolist() == [0] * len(boxes)
            assert results['gt_ignore_flags'].tolist() == [False] * len(boxes)
            red = _is_red(results['img'])
            for box in results['gt_bboxes'].tensor.int().tolist():
                assert _red_extent(red, box) == tuple(box)


def test_mmdet_coco_metric(made_root, tmp_path):
    """mmdet's CocoMetric reads the JSON: the ground-truth boxes as
    predictions score a bbox mAP of 1."""
    import torch
    from mmdet.datasets import CocoDataset
    from mmdet.evaluation import CocoMetric
    path = convert_raccoon(str(made_root), str(tmp_path))['test']
    dataset = CocoDataset(
        data_root=str(made_root),
        ann_file=path,
        data_prefix=dict(img='images/'),
        metainfo=dict(classes=RACCOON_CLASSES),
        test_mode=True)
    metric = CocoMetric(ann_file=path, metric='bbox')
    metric.dataset_meta = dataset.metainfo
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        bboxes = torch.tensor([inst['bbox'] for inst in info['instances']])
        metric.process({}, [
            dict(
                img_id=info['img_id'],
                ori_shape=(info['height'], info['width']),
                pred_instances=dict(
                    bboxes=bboxes,
                    scores=torch.ones(len(bboxes)),
                    labels=torch.zeros(len(bboxes), dtype=torch.long)))
        ])
    assert metric.evaluate(len(dataset))['coco/bbox_mAP'] == 1.0


def _is_red(bgr: np.ndarray) -> np.ndarray:
    """Pixels nearer :data:`BOX_COLOUR` than the grey noise (JPEG)."""
    colour = np.array(BOX_COLOUR[::-1], float)
    return np.abs(bgr - colour).mean(-1) < 40


def _red_extent(red: np.ndarray, box: list) -> tuple:
    """``(x1, y1, x2, y2)`` of the columns and rows, within ``box`` widened
    by a pixel, that are mostly red across the box."""
    x1, y1, x2, y2 = box
    left, top = max(x1 - 1, 0), max(y1 - 1, 0)
    cols = np.flatnonzero(red[y1:y2, left:x2 + 1].mean(0) > 0.5) + left
    rows = np.flatnonzero(red[top:y2 + 1, x1:x2].mean(1) > 0.5) + top
    return cols[0], rows[0], cols[-1] + 1, rows[-1] + 1


def _obj(name='raccoon',
         difficult='0',
         xmin='5',
         ymin='6',
         xmax='20',
         ymax='25') -> str:
    return (f'<object><name>{name}</name><difficult>{difficult}</difficult>'
            f'<bndbox><xmin>{xmin}</xmin><ymin>{ymin}</ymin><xmax>{xmax}'
            f'</xmax><ymax>{ymax}</ymax></bndbox></object>')


def _xml(filename='a.jpg', width='40', height='30', objects=None) -> str:
    """A VOC file of ``a.jpg`` (40 x 30), its objects ``objects`` (default:
    one valid box)."""
    objects = [_obj()] if objects is None else objects
    return (f'<annotation><filename>{filename}</filename><size><width>'
            f'{width}</width><height>{height}</height><depth>3</depth>'
            f'</size>{"".join(objects)}</annotation>')


@pytest.fixture
def voc(tmp_path):
    """``voc(text)``: the COCO dict of a VOC file of ``text`` whose image is
    a 40 x 30 ``a.jpg``, and the file's path."""
    Image.new('RGB', (40, 30)).save(tmp_path / 'a.jpg')

    def convert(text: str) -> tuple:
        xml_path = tmp_path / 'a.xml'
        xml_path.write_text(text)
        return voc_to_coco([xml_path], str(tmp_path), RACCOON_CLASSES), \
            xml_path

    return convert


def test_voc_to_coco_edges(voc):
    """Boxes on the image's edges and of one pixel are inside; floats
    convert as integers do; ids follow the objects."""
    coco, _ = voc(
        _xml(objects=[
            _obj(xmin='1', ymin='1', xmax='40', ymax='30'),
            _obj(xmin='3', ymin='30', xmax='3', ymax='30'),
            _obj(xmin='2.5', ymin='3', xmax='4.5', ymax='7')
        ]))
    assert coco['images'] == [
        dict(id=1, file_name='a.jpg', width=40, height=30)
    ]
    assert [(a['id'], a['bbox'], a['area']) for a in coco['annotations']] \
        == [(1, [0, 0, 40, 30], 1200), (2, [2, 29, 1, 1], 1),
            (3, [1.5, 2, 3, 5], 15)]


def test_voc_to_coco_image_without_objects(voc):
    coco, _ = voc(_xml(objects=[]))
    assert len(coco['images']) == 1 and coco['annotations'] == []


def test_voc_to_coco_several_files(made_root):
    """Images get ids in the order of the files, annotations follow."""
    names = ['raccoon-3', 'raccoon-1']
    coco = voc_to_coco([made_root / 'annotations' / f'{n}.xml' for n in names],
                       str(made_root / 'images'), ['cat', 'raccoon'])
    assert [(im['id'], im['file_name'])
            for im in coco['images']] == [(1, 'raccoon-3.jpg'),
                                          (2, 'raccoon-1.jpg')]
    num = [
        len(_xml_boxes(made_root / 'annotations' / f'{n}.xml')) for n in names
    ]
    assert [a['image_id'] for a in coco['annotations']] == \
        [1] * num[0] + [2] * num[1]
    assert {a['category_id'] for a in coco['annotations']} == {2}
    assert coco['categories'] == [
        dict(id=1, name='cat'),
        dict(id=2, name='raccoon')
    ]


def _one(**fields) -> str:
    """A VOC file of one object of :func:`_obj` ``fields``."""
    return _xml(objects=[_obj(**fields)])


ERRORS = {
    'malformed': ('<annotation><filename>a', 'not a readable XML file'),
    'root': ('<voc/>', 'the root element is <voc>, a Pascal VOC file has '
             '<annotation>'),
    'no filename': (_xml(filename=' '), 'missing <filename>'),
    'no width': (_xml(width=''), 'missing <size/width>'),
    'width': (_xml(width='4O'), "<size>/<width> is '4O', expected a "
              'positive integer'),
    'height': (_xml(height='0'), "<size>/<height> is '0', expected a "
               'positive integer'),
    'no name': (_xml(objects=['<object/>']), 'missing <name>'),
    'no bndbox': (_xml(objects=['<object><name>raccoon</name></object>']),
                  'missing <bndbox/xmin>'),
    'xmax': (_xml(objects=[_obj(), _obj(xmax='2O')]),
             "object 2 (raccoon): <bndbox>/<xmax> is '2O', expected a "
             'number'),
    'image': (_xml(filename='b.jpg'), 'b.jpg is missing'),
    'size': (_xml(width='41'), '<size> is 41 x 30, its image a.jpg is '
             '40 x 30; they must be equal'),
    'class': (_one(name='dog'), "object 1 (dog) has class 'dog'; allowed: "
              'raccoon'),
    'difficult': (_one(difficult='1'), "object 1 (raccoon) has <difficult> "
                  "'1'; allowed: 0"),
}


@pytest.mark.parametrize('case', list(ERRORS))
def test_voc_to_coco_errors(voc, tmp_path, case):
    """Each error names the file and says what is wrong and allowed."""
    text, message = ERRORS[case]
    with pytest.raises(ValueError) as error:
        voc(text)
    assert str(error.value).startswith(f'{tmp_path / "a.xml"}: ')
    assert message in str(error.value)


@pytest.mark.parametrize('corner', [
    dict(xmin='0'),
    dict(ymin='0'),
    dict(xmax='41'),
    dict(ymax='30.5'),
    dict(xmin='21'),
    dict(ymin='26'),
    dict(xmin='nan')
])
def test_voc_to_coco_box_outside(voc, tmp_path, corner):
    """A box off the 1-based 40 x 30 grid, or empty, is refused."""
    box = {**dict(xmin='5', ymin='6', xmax='20', ymax='25'), **corner}
    with pytest.raises(ValueError) as error:
        voc(_one(**box))
    corners = ', '.join(f'{key}={value}' for key, value in box.items())
    assert str(error.value) == (
        f'{tmp_path / "a.xml"}: object 1 (raccoon) box ({corners}) is empty '
        'or not inside the 40 x 30 image; allowed: 1 <= xmin <= xmax <= 40, '
        '1 <= ymin <= ymax <= 30 (1-based corners)')


def test_voc_to_coco_unreadable(tmp_path):
    xml_path = tmp_path / 'missing.xml'
    with pytest.raises(ValueError, match='missing.xml: not a readable XML'):
        voc_to_coco([xml_path], str(tmp_path), RACCOON_CLASSES)


def test_voc_to_coco_unreadable_image(voc, tmp_path):
    (tmp_path / 'b.jpg').write_bytes(b'not a JPEG')
    message = f'a.xml: its image {tmp_path}/b.jpg cannot be read'
    with pytest.raises(ValueError, match=message):
        voc(_xml(filename='b.jpg'))


def test_voc_to_coco_exif_orientation(voc, tmp_path):
    """An image that mmdet would rotate (EXIF orientation 6) is refused."""
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new('RGB', (40, 30)).save(tmp_path / 'b.jpg', exif=exif)
    with pytest.raises(
            ValueError,
            match='has EXIF orientation 6, which '
            'mmdet applies and the boxes do not'):
        voc(_xml(filename='b.jpg'))
    exif[0x0112] = 1
    Image.new('RGB', (40, 30)).save(tmp_path / 'b.jpg', exif=exif)
    assert len(voc(_xml(filename='b.jpg'))[0]['annotations']) == 1


def _append_row(csv_path: Path, name: str) -> None:
    with open(csv_path, 'a', newline='') as f:
        csv.writer(f).writerow([name, 64, 64, 'raccoon', 1, 1, 10, 10])


def test_convert_raccoon_missing_csv(root, tmp_path):
    os.remove(root / 'data' / 'test_labels.csv')
    with pytest.raises(
            ValueError, match='split file .*test_labels.csv is '
            'missing'):
        convert_raccoon(str(root), str(tmp_path / 'out'))
    (root / 'data' / 'test_labels.csv').write_text('name\nraccoon-1.jpg\n')
    with pytest.raises(
            ValueError,
            match='test_labels.csv: no filename '
            r"column \(header: \['name'\]\)"):
        convert_raccoon(str(root), str(tmp_path / 'out'))
    (root / 'data' / 'test_labels.csv').write_text('filename,width\n')
    with pytest.raises(ValueError, match='test_labels.csv lists no images'):
        convert_raccoon(str(root), str(tmp_path / 'out'))


def test_convert_raccoon_image_without_xml(root, tmp_path):
    _append_row(root / 'data' / 'test_labels.csv', 'raccoon-99.jpg')
    out = tmp_path / 'out'
    with pytest.raises(ValueError) as error:
        convert_raccoon(str(root), str(out))
    assert str(error.value) == (
        f'{root}/data/test_labels.csv lists raccoon-99.jpg, which has no '
        f'annotation: {root}/annotations/raccoon-99.xml is missing')
    assert not out.exists()  # the valid train split is not written either


def test_convert_raccoon_image_in_both_splits(root, tmp_path):
    name = sorted(_split_names(root, 'train'))[1]
    _append_row(root / 'data' / 'test_labels.csv', name)
    with pytest.raises(ValueError) as error:
        convert_raccoon(str(root), str(tmp_path / 'out'))
    assert str(error.value) == (
        f'{name}: in both {root}/data/train_labels.csv and '
        f'{root}/data/test_labels.csv; each image must be in one split')


def test_convert_raccoon_filename_not_the_listed_one(root, tmp_path):
    name = sorted(_split_names(root, 'test'))[0]
    shutil.copy(root / 'images' / name, root / 'images' / 'copy.jpg')
    xml_path = root / 'annotations' / name.replace('.jpg', '.xml')
    xml_path.write_text(xml_path.read_text().replace(f'<filename>{name}<',
                                                     '<filename>copy.jpg<'))
    with pytest.raises(ValueError) as error:
        convert_raccoon(str(root), str(tmp_path / 'out'))
    assert str(
        error.value) == (f"{xml_path}: <filename> is 'copy.jpg', but "
                         f"{root}/data/test_labels.csv lists it as '{name}'")


def test_convert_raccoon_xml_error(root, tmp_path):
    """A file voc_to_coco refuses stops the conversion, named."""
    name = sorted(_split_names(root, 'train'))[0]
    xml_path = root / 'annotations' / name.replace('.jpg', '.xml')
    xml_path.write_text(xml_path.read_text().replace('<difficult>0<',
                                                     '<difficult>1<'))
    with pytest.raises(
            ValueError,
            match=f"^{xml_path}: object 1 "
            r"\(raccoon\) has <difficult> '1'"):
        convert_raccoon(str(root), str(tmp_path / 'out'))


@pytest.mark.skipif(not REAL_ROOT.is_dir(), reason=f'no {REAL_ROOT}')
def test_real_data(tmp_path):
    paths = convert_raccoon(str(REAL_ROOT), str(tmp_path))
    counts = {}
    for split, path in paths.items():
        coco = json.loads(Path(path).read_text())
        counts[split] = (len(coco['images']), len(coco['annotations']))
    assert counts == dict(train=(160, 173), test=(40, 44))
    coco = json.loads(Path(paths['train']).read_text())
    assert coco['images'][0] == dict(
        id=1, file_name='raccoon-1.jpg', width=650, height=417)
    # raccoon-1.xml: xmin 81, ymin 88, xmax 522, ymax 408
    assert coco['annotations'][0]['bbox'] == [80, 87, 442, 321]


@pytest.mark.skipif(not REAL_ROOT.is_dir(), reason=f'no {REAL_ROOT}')
def test_images_with_people_are_real_test_images():
    """The raccoon track's pictures leave out these test images: each is
    one (a wrong name would leave a photo of a person in)."""
    from mmprotune.analysis.transfer.catalog import TASKS
    with open(REAL_ROOT / 'data' / 'test_labels.csv', encoding='utf-8') as f:
        test = {Path(row['filename']).stem for row in csv.DictReader(f)}
    people = TASKS['raccoon']['images_with_people']
    assert len(set(people)) == len(people) and set(people) <= test
