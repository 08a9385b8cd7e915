"""The plots and reports of both studies are written atomically
(:func:`mmprotune.analysis.plotting.save_figure`, mmengine's dump)."""
import os

from mmprotune.analysis.cost.report import plot
from mmprotune.analysis.transfer.report import plot as transfer_plot
from mmprotune.analysis.transfer.report import write_report
from mmprotune.analysis.transfer.settings import transfer_settings
from mmprotune.analysis.transfer.stats import summarize
from mmprotune.testing import TRANSFER_CONFIG_DIR


def test_reports_are_written_atomically(tmp_path):
    """report.png and transfer.json/.png: each rewrite is a new file renamed
    onto the old one (a new inode), never the old file emptied and
    rewritten in place."""
    results = dict(full=dict(trainable_params=2.0, train_step_s=1.0),
                   protune=dict(trainable_params=1.0, train_step_s=0.5))
    settings = transfer_settings(TRANSFER_CONFIG_DIR, quick=True,
                                 out_dir=str(tmp_path))
    runs = [dict(train_size=8, method='protune', phase='test', lr=1e-2,
                 seed=0, mIoU=50.0, step_s=0.1,
                 trainable_params=1, backbone_trainable_params=1,
                 saved_bytes=1, checkpoint_bytes=1)]
    writes = dict(
        png=lambda: plot(results, 'full', 'title', str(tmp_path / 'r.png')),
        json=lambda: write_report(settings, {}, runs, 1.0, False),
        transfer_png=lambda: transfer_plot(
            summarize(runs), str(tmp_path / 't.png'), 'resnet18'))
    files = dict(png='r.png', json='transfer.json', transfer_png='t.png')
    for kind, write in writes.items():
        path = tmp_path / files[kind]
        write()
        first = os.stat(path).st_ino
        write()
        assert os.stat(path).st_ino != first, kind
        assert path.stat().st_size > 0
    assert not [f for f in os.listdir(tmp_path) if f.endswith('.tmp')]
