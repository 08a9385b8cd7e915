"""The pictures of the CamVid track's test predictions: runs made by hand,
their prediction files written here, a tiny CamVid-layout folder."""
import numpy as np
import pytest
from PIL import Image

from mmprotune.analysis.transfer.data import make_target_data
from mmprotune.analysis.transfer.pictures import (DPI, PANEL_INCHES,
                                                  class_colours,
                                                  find_predictions,
                                                  plot_predictions)
from mmprotune.analysis.transfer.settings import transfer_settings
from mmprotune.analysis.transfer.study import PREDICTIONS_FOLDER
from mmprotune.datasets import CamVidDataset
from mmprotune.testing import TRANSFER_CONFIG_DIR
from mmprotune.testing.camvid import NAMES, make_camvid

PNG = b'\x89PNG\r\n\x1a\n'


@pytest.fixture
def settings(tmp_path):
    """CamVid settings on a tiny folder, two splits, the methods
    ``full,head-only,protune``, records in ``records`` and reused from
    ``committed``."""
    (tmp_path / 'committed').mkdir()
    return transfer_settings(
        TRANSFER_CONFIG_DIR, backbone='mobilenetv2',
        data_root=str(make_camvid(tmp_path / 'camvid')), quick=True,
        num_select=1, train_sizes=[1, 2], iters=[2],
        methods=['full', 'head-only', 'protune'],
        out_dir=str(tmp_path / 'out'), records=str(tmp_path / 'records'),
        reuse_records=[str(tmp_path / 'committed')])


def _run(method, size, seed=1, predictions=True, folder=None):
    """A test run of ``method`` on ``size`` images; with ``folder`` (a
    records folder) its predictions of the val images written there."""
    record = f'camvid_n{size}_{method}_test_seed{seed}_abc.json'
    names = [f'{n}.png' for n in NAMES['val']] if predictions else None
    if folder:
        out = folder / PREDICTIONS_FOLDER / record[:-len('.json')]
        out.mkdir(parents=True)
        for i, name in enumerate(names):
            image = Image.fromarray(
                np.full((48, 64), i, np.uint8), mode='P')
            image.putpalette(
                np.asarray(CamVidDataset.METAINFO['palette']).flatten())
            image.save(out / name)
    return dict(train_size=size, method=method, phase='test', seed=seed,
                mIoU=40. + size, record=record, predictions=names)


def test_plot_predictions(settings, tmp_path):
    path = tmp_path / 'out' / 'transfer_predictions.png'
    records, committed = tmp_path / 'records', tmp_path / 'committed'
    runs = [
        dict(_run('full', 1, seed=0), phase='select', predictions=None),
        _run('full', 1, folder=records),
        _run('full', 1, seed=2, predictions=False),
        # predictions listed but not on disk: left out
        _run('head-only', 1),
        # a continued study: the record and its predictions reused
        _run('protune', 1, folder=committed),
        _run('full', 2, folder=records),
        _run('protune', 2, folder=records),
    ]
    found = find_predictions(settings, runs)
    assert {size: list(methods) for size, methods in found.items()} == {
        1: ['full', 'protune'], 2: ['full', 'protune']}
    assert found[1]['protune']['files']['0016E5_07959.png'] == str(
        committed / PREDICTIONS_FOLDER /
        'camvid_n1_protune_test_seed1_abc' / '0016E5_07959.png')
    assert found[1]['full']['seed'] == 1

    data = make_target_data(settings)
    assert plot_predictions(settings, runs, str(path), data)
    assert path.read_bytes()[:8] == PNG
    # image, ground truth, full, protune; two splits of 2 images each
    width, height = Image.open(path).size
    assert width == round(4 * PANEL_INCHES * DPI)
    panel = PANEL_INCHES * 48 / 64 * DPI
    assert 4 * panel < height < 4 * panel + 3 * DPI

    # no predictions: nothing drawn, the stale picture removed
    assert not plot_predictions(settings, [r for r in runs
                                           if r['method'] == 'head-only'],
                                str(path), data)
    assert not path.exists()
    assert not plot_predictions(settings, [], str(path), data)
    assert not path.exists()


def test_class_colours():
    colours = class_colours()
    palette = CamVidDataset.METAINFO['palette']
    assert colours[:len(palette)].tolist() == palette
    assert not colours[len(palette):].any()  # void (11) and the rest black


def test_plot_predictions_of_boxes(tmp_path):
    """The raccoon track's pictures: ground-truth boxes and each method's
    boxes that score at least SCORE_THR, drawn on the image."""
    import json

    from mmprotune.analysis.transfer.pictures import SCORE_THR, _BoxPanels
    from mmprotune.testing import make_raccoon
    settings = transfer_settings(
        TRANSFER_CONFIG_DIR, backbone='mobilenetv2', task='raccoon',
        data_root=str(make_raccoon(tmp_path / 'raccoon')), quick=True,
        num_select=1, train_sizes=[2], iters=[2], methods=['full', 'protune'],
        out_dir=str(tmp_path / 'out'), records=str(tmp_path / 'records'))
    data = make_target_data(settings)
    with open(data['test']['ann_file']) as f:
        coco = json.load(f)
    image = coco['images'][0]
    name = image['file_name'].replace('.jpg', '.json')
    width, height = image['width'], image['height']
    # one box kept (left half), one below the threshold (right half)
    kept, dropped = [2, 2, width // 2 - 4, height - 3], \
        [width // 2 + 2, 2, width - 3, height - 3]
    runs = []
    for method in settings.methods:
        record = f'raccoon_n2_{method}_test_seed1_abc.json'
        folder = tmp_path / 'records' / PREDICTIONS_FOLDER / record[:-5]
        folder.mkdir(parents=True)
        (folder / name).write_text(json.dumps(dict(
            bboxes=[kept, dropped], scores=[SCORE_THR, SCORE_THR - 0.01],
            labels=[0, 0])))
        runs.append(dict(train_size=2, method=method, phase='test', seed=1,
                         AP=30., record=record, predictions=[name]))
    path = tmp_path / 'out' / 'transfer_predictions.png'
    assert plot_predictions(settings, runs, str(path), data)
    assert path.read_bytes()[:8] == PNG

    panels = _BoxPanels(data['test']['ann_file'])
    pixels = np.asarray(Image.open(
        tmp_path / 'raccoon' / 'images' / image['file_name']).convert('RGB'))
    drawn = panels.prediction(pixels, str(folder / name))
    colour = np.asarray(_BoxPanels.PREDICTION_COLOUR)

    def coloured(x: int, y: int) -> bool:
        return bool((np.abs(drawn[y, x].astype(int) - colour) < 40).all())

    # the kept box's left edge is drawn, the dropped box's right edge not
    middle = height // 2
    assert coloured(kept[0], middle)
    assert not coloured(dropped[2], middle)
    truth = panels.truth(pixels, image['file_name'])
    assert not np.array_equal(truth, pixels)  # the ground-truth box drawn


def test_pictures_leave_out_images_with_people(settings, tmp_path,
                                               monkeypatch):
    """A test image the task lists in ``images_with_people`` is never
    drawn, whoever predicted it; with nothing else to draw, no picture."""
    from mmprotune.analysis.transfer.catalog import TASKS
    path = tmp_path / 'out' / 'transfer_predictions.png'
    runs = [_run('full', 1, folder=tmp_path / 'records'),
            _run('protune', 1, folder=tmp_path / 'committed')]
    data = make_target_data(settings)
    first, second = NAMES['val'][:2]
    monkeypatch.setitem(TASKS['camvid'], 'images_with_people', (first, ))
    assert plot_predictions(settings, runs, str(path), data)
    height = Image.open(path).size[1]
    panel = PANEL_INCHES * 48 / 64 * DPI
    assert panel < height < panel + 3 * DPI  # one row: the second image

    monkeypatch.setitem(TASKS['camvid'], 'images_with_people',
                        (first, second))
    assert not plot_predictions(settings, runs, str(path), data)
    assert not path.exists()

