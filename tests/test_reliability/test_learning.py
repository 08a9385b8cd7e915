"""Pro-tuning learns: with the pretrained-style backbone frozen, the training
loss of the repository's RetinaNet and UPerNet Pro-tuning configs (CPU-sized)
clearly falls within 30 iterations on the synthetic data."""
import numpy as np
import pytest
from mmengine.runner import Runner

pytestmark = pytest.mark.slow

ITERS = 30


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg'])
def test_training_loss_falls(scope, tiny_cfg, pretrained, tmp_path):
    cfg = tiny_cfg(scope, tmp_path, max_iters=ITERS,
                   checkpoint=pretrained[scope])
    cfg.optim_wrapper.optimizer.lr = 2e-3
    runner = Runner.from_cfg(cfg)
    runner.train()

    losses = runner.message_hub.get_scalar('train/loss').data[0]
    assert len(losses) == ITERS and np.isfinite(losses).all()
    first, last = losses[:3].mean(), losses[-3:].mean()
    assert last < 0.75 * first, (first, last, losses.round(3).tolist())
