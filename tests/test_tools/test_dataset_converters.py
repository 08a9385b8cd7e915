"""``tools/dataset_converters/raccoon.py`` writes the raccoon set's COCO JSON
and prints a line per split; a file the converter refuses is an argument
error naming it."""
import csv
import json
import os

import pytest

from mmprotune.testing import make_raccoon

TOOL = 'tools/dataset_converters/raccoon.py'
SPLITS = dict(train=6, test=3)


@pytest.fixture
def raccoon_root(tmp_path):
    """A raccoon-layout folder of 6 training and 3 test images."""
    return make_raccoon(tmp_path / 'raccoon')


def _rows(root, split: str) -> list:
    """The rows (one per box) of a split's CSV."""
    with open(root / 'data' / f'{split}_labels.csv', newline='') as f:
        return list(csv.DictReader(f))


def _expected_output(root, out) -> list:
    return [
        f'{split}: {num} images, {len(_rows(root, split))} boxes -> '
        f'{os.path.join(out, split + ".json")}'
        for split, num in SPLITS.items()
    ]


def test_raccoon(tool_main, raccoon_root, tmp_path, capsys):
    out = tmp_path / 'out'
    tool_main(TOOL, raccoon_root, out)
    assert capsys.readouterr().out.splitlines() == _expected_output(
        raccoon_root, out)
    for split, num in SPLITS.items():
        coco = json.loads((out / f'{split}.json').read_text())
        assert len(coco['images']) == num
        assert len(coco['annotations']) == len(_rows(raccoon_root, split))


def test_raccoon_error(tool_main, raccoon_root, tmp_path, capsys):
    name = _rows(raccoon_root, 'test')[0]['filename']
    xml_path = raccoon_root / 'annotations' / name.replace('.jpg', '.xml')
    os.remove(xml_path)
    out = tmp_path / 'out'
    with pytest.raises(SystemExit) as exit_info:
        tool_main(TOOL, raccoon_root, out)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(
        f': error: {raccoon_root}/data/test_labels.csv lists {name}, which '
        f'has no annotation: {xml_path} is missing')
    assert not out.exists()


@pytest.mark.slow
def test_raccoon_in_a_fresh_python(tool, raccoon_root, tmp_path):
    """The command as the docs give it: relative paths."""
    code, output = tool(TOOL, 'raccoon', 'coco', cwd=tmp_path)
    assert code == 0, output
    assert output.splitlines() == _expected_output(raccoon_root, 'coco')
    assert sorted(os.listdir(tmp_path / 'coco')) == ['test.json', 'train.json']
