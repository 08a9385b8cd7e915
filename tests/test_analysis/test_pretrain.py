"""``tools/misc/pretrain_backbone.py`` (:func:`pretrain_backbone`) writes its
checkpoint atomically: a save that dies midway leaves the previous file."""
import os

import pytest
import torch

from mmprotune.analysis.pretrain import PretrainSettings, pretrain_backbone

try:
    import resource
except ImportError:  # Windows
    resource = None


def _tiny(out):
    return PretrainSettings(out=str(out), base_channels=8, iters=2,
                            img_size=32, batch_size=4, num_images=8)


@pytest.mark.skipif(resource is None, reason='needs RLIMIT_FSIZE')
def test_pretrain_checkpoint_is_written_atomically(tmp_path):
    out = tmp_path / 'backbone.pth'
    pretrain_backbone(_tiny(out))
    before = out.read_bytes()
    first = os.stat(out).st_ino
    state = torch.load(out, weights_only=True)['state_dict']
    assert 'conv1.weight' in state and 'layer4.1.bn2.running_var' in state
    # a full disk (a file-size limit) while the next checkpoint is written
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (len(before) // 2, hard))
    try:
        with pytest.raises(OSError, match='File too large'):
            pretrain_backbone(_tiny(out))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert out.read_bytes() == before
    assert os.listdir(tmp_path) == [out.name]  # no temporary file left
    pretrain_backbone(_tiny(out))  # a new file renamed onto the old one
    assert os.stat(out).st_ino != first
