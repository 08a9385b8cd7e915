"""Runner checkpoints load and resume under torch >= 2.6 once mmprotune is
imported; anything that could run code is still refused."""
import os

import pytest
import torch
import torch.nn as nn
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader

import mmprotune  # noqa: F401  (registers the loader)
from mmprotune.utils import load_local_checkpoint


class ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, labels, mode='tensor'):
        loss = (self.linear(inputs).squeeze(1) - labels).square().mean()
        return dict(loss=loss)


def _runner(work_dir, max_iters, **kwargs):
    data = [(torch.randn(2), torch.randn(())) for _ in range(8)]
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=data, sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=2, collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook',
                                           interval=2, by_epoch=False)),
        randomness=dict(seed=0),
        **kwargs)


def test_runner_checkpoint_loads_and_resumes(tmp_path):
    _runner(tmp_path, 2).train()
    path = tmp_path / 'iter_2.pth'
    checkpoint = CheckpointLoader.load_checkpoint(str(path))
    buffers = checkpoint['message_hub']['log_scalars']
    assert isinstance(buffers['train/loss'], HistoryBuffer)
    assert buffers['train/loss'].mean() > 0

    resumed = _runner(tmp_path, 4, resume=True, load_from=str(path))
    resumed.train()
    assert resumed.iter == 4
    assert resumed.message_hub.get_scalar('train/loss').data[0].size > 2


def test_plain_weights_load(tmp_path):
    path = tmp_path / 'weights.pth'
    torch.save(dict(state_dict=dict(w=torch.ones(2))), path)
    assert torch.equal(load_local_checkpoint(str(path))['state_dict']['w'],
                       torch.ones(2))


class RunsCode:

    def __reduce__(self):
        return (os.system, ('echo unsafe', ))


class ReachesForAMethod:

    def __reduce__(self):
        return (getattr, (torch.Tensor, 'tolist'))


@pytest.mark.parametrize('payload, reason', [
    (RunsCode(), 'GLOBAL'),
    (ReachesForAMethod(), 'refusing getattr'),
])
def test_unsafe_objects_are_refused_clearly(tmp_path, payload, reason):
    path = tmp_path / 'unsafe.pth'
    torch.save(dict(x=payload), path)
    with pytest.raises(RuntimeError, match=f'unsafe.pth holds objects .*'
                       f'{reason}'):
        CheckpointLoader.load_checkpoint(str(path))


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        load_local_checkpoint(str(tmp_path / 'nowhere.pth'))
