"""Smoke test of ``tools/demo.py --quick``: every step of the demo (data,
backbone pretraining, Pro-tuning, test, summary) on tiny settings."""


def test_demo_quick(tmp_path, tool):
    work_dir, data_root = tmp_path / 'work', tmp_path / 'data'
    rc, out = tool('tools/demo.py', '--quick', '--work-dir', work_dir,
                   '--data-root', data_root, cwd=tmp_path)
    assert rc == 0, out[-5000:]
    summary = out[out.index('Pro-tuning demo summary'):]
    assert 'bbox mAP: ' in summary and 'mAP_50: ' in summary
    for part in ('backbone (frozen)', 'backbone.prompts', 'neck', 'heads',
                 'all'):
        assert part in summary
    for step in ('pretrain backbone', 'train (Pro-tuning)', 'test', 'total'):
        assert step in summary
    assert (work_dir / 'resnet18_shapes-pretrain.pth').is_file()
    assert (data_root / 'annotations' / 'instances_val2017.json').is_file()
    # nothing is written outside the given folders
    assert not (tmp_path / 'work_dirs').exists()
    assert not (tmp_path / 'data' / 'shapes_coco_quick').exists()
