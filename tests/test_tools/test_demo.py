"""Smoke test of ``tools/demo.py --quick``: every step of the demo (data,
backbone pretraining, head-only and Pro-tuning training, tests with their
pictures, summary) on tiny settings."""
import mmcv
import numpy as np
import pytest

pytestmark = pytest.mark.slow


def test_demo_quick(tmp_path, tool):
    work_dir, data_root = tmp_path / 'work', tmp_path / 'data'
    rc, out = tool('tools/demo.py', '--quick', '--work-dir', work_dir,
                   '--data-root', data_root, cwd=tmp_path, timeout=600)
    assert rc == 0, out[-5000:]
    summary = out[out.index('Pro-tuning demo summary'):]
    metrics = summary[summary.index('COCO metrics'):summary.index('Pictures')]
    assert metrics.count('bbox mAP: ') == 2 and 'mAP_50: ' in metrics
    for part in ('backbone (frozen)', 'backbone.prompts', 'neck', 'heads',
                 'all'):
        assert part in summary
    for step in ('pretrain backbone', 'train head-only (frozen backbone)',
                 'train Pro-tuning', 'test head-only (frozen backbone)',
                 'test Pro-tuning', 'total'):
        assert step in summary
    assert (work_dir / 'resnet18_shapes-pretrain.pth').is_file()
    assert (data_root / 'annotations' / 'instances_val2017.json').is_file()
    # nothing is written outside the given folders
    assert not (tmp_path / 'work_dirs').exists()
    assert not (tmp_path / 'data' / 'shapes_coco_quick').exists()

    # a picture per val image and model, where the summary says
    val_images = sorted(p.name for p in (data_root / 'val2017').iterdir())
    drawn = {}
    for method in ('head-only', 'protune'):
        folder = work_dir / 'pictures' / method
        assert str(folder) in summary
        assert sorted(p.name for p in folder.iterdir()) == val_images
        drawn[method] = {
            name: mmcv.imread(str(folder / name))
            for name in val_images
        }
    for name in val_images:
        image = mmcv.imread(str(data_root / 'val2017' / name))
        height, width = image.shape[:2]
        frozen, protune = drawn['head-only'][name], drawn['protune'][name]
        # ground truth left, predictions right, on the image's own size
        assert frozen.shape == protune.shape == (height, 2 * width, 3)
        # the same ground truth (but the JPEG decoder's chroma upsampling
        # mixes the last column with the first of the predictions)
        np.testing.assert_array_equal(frozen[:, :width - 1],
                                      protune[:, :width - 1])
        difference = np.abs(frozen[:, width:].astype(int) -
                            protune[:, width:].astype(int))
        assert difference.max() > 40, name  # more than JPEG noise
