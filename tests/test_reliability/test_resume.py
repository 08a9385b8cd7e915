"""Exact resume and determinism of Pro-tuning with the real Runner.

A RetinaNet with a ``ProTuneResNet`` (the repository's config, CPU-sized)
trains 2N iterations once without interruption (checkpoints every N). A new
Runner resumed from ``iter_N.pth`` must then end bit for bit where the
uninterrupted run ended: model, optimizer state, learning rate and losses.
mmengine restores the model, optimizer, schedulers, message hub and iteration
counter; it does not store the data order or the random state, but it re-seeds
the same way and replays the sampler for the N finished iterations (running
the pipeline, so ``RandomFlip`` draws the same numbers), which is why the data
order matches as long as the seed is fixed and the loader runs in the main
process (``num_workers=0`` here). The batches each run sees are recorded and
compared too, so the comparison cannot pass by accident.
"""
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader

import mmprotune  # noqa: F401  (registers the torch>=2.6 checkpoint loader)
from mmprotune.datasets import SHAPE_CLASSES

N = 3  # 8 images, batch 2: the resumed half crosses the epoch boundary


class RecordBatches(Hook):
    """Records ``(img_id, flip)`` of every sample each iteration trains on."""

    def __init__(self):
        self.batches = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.batches.append([(s.img_id, s.flip)
                             for s in data_batch['data_samples']])


def _cfg(tiny_cfg, work_dir, max_iters=2 * N, stages=(0, 1, 2, 3)):
    cfg = tiny_cfg('mmdet', work_dir, max_iters=max_iters)
    cfg.randomness = dict(seed=0, deterministic=True)
    cfg.model.backbone.prompt_cfg.stages = stages
    cfg.optim_wrapper.optimizer.lr = 1e-3
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
             end=2 * N)
    ]
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', by_epoch=False, interval=N)
    return cfg


def _train(cfg, resume_from=None, save=False):
    if not save:
        cfg.default_hooks.checkpoint = None
    if resume_from is not None:
        cfg.resume, cfg.load_from = True, str(resume_from)
    runner = Runner.from_cfg(cfg)
    record = RecordBatches()
    runner.register_hook(record)
    runner.train()
    return runner, record.batches


def _clone(state):
    return {k: v.detach().clone() for k, v in state.items()}


def _assert_equal(actual, expected, path=''):
    """``torch.equal`` on every tensor of two nested containers."""
    if isinstance(expected, dict):
        assert set(actual) == set(expected), path
        for key in expected:
            _assert_equal(actual[key], expected[key], f'{path}.{key}')
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), path
        for i, (a, e) in enumerate(zip(actual, expected)):
            _assert_equal(a, e, f'{path}[{i}]')
    elif isinstance(expected, torch.Tensor):
        assert torch.equal(actual, expected), path
    else:
        assert actual == expected, path


def _add_test_loop(cfg, data_root):
    """Evaluate on the synthetic val split (for ``tools/test.py``)."""
    cfg.test_dataloader = dict(
        batch_size=1,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(
            type='CocoDataset',
            data_root=data_root,
            ann_file='annotations/instances_val2017.json',
            data_prefix=dict(img='val2017/'),
            metainfo=dict(classes=SHAPE_CLASSES),
            test_mode=True,
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='Resize', scale=(64, 64), keep_ratio=True),
                dict(type='LoadAnnotations', with_bbox=True),
                dict(type='PackDetInputs')
            ]))
    cfg.test_evaluator = dict(
        type='CocoMetric',
        ann_file=f'{data_root}/annotations/instances_val2017.json',
        metric='bbox')
    cfg.test_cfg = dict(type='TestLoop')
    # barely trained: keep low-score boxes so that COCO metrics get computed
    cfg.model.test_cfg.update(score_thr=0.0, max_per_img=10)


@pytest.fixture(scope='module')
def full_run(tiny_cfg, data_roots, tmp_path_factory):
    """2N uninterrupted iterations, checkpoints at N and 2N; its config is
    dumped for the command-line tools."""
    work_dir = tmp_path_factory.mktemp('full')
    cfg = _cfg(tiny_cfg, work_dir)
    _add_test_loop(cfg, data_roots['mmdet'])
    config_file = work_dir / 'tiny_retinanet_protune.py'
    cfg.dump(str(config_file))
    runner, batches = _train(cfg, save=True)
    hub = runner.message_hub
    return dict(
        work_dir=work_dir,
        config_file=config_file,
        state=_clone(runner.model.state_dict()),
        optimizer=runner.optim_wrapper.state_dict(),
        losses=hub.get_scalar('train/loss').data[0].copy(),
        lrs=hub.get_scalar('train/lr').data[0].copy(),
        batches=batches)


@pytest.mark.slow
def test_resume_is_exact(full_run, tiny_cfg, tmp_path):
    checkpoint = full_run['work_dir'] / f'iter_{N}.pth'
    runner, batches = _train(_cfg(tiny_cfg, tmp_path), resume_from=checkpoint)
    assert runner.iter == 2 * N
    # the resumed run trained on exactly the second half of the data stream
    assert len(batches) == N
    assert batches == full_run['batches'][N:]
    assert full_run['batches'][:N] != full_run['batches'][N:]

    state = runner.model.state_dict()
    for part in ('backbone.prompts.', 'neck.', 'bbox_head.'):
        keys = [k for k in full_run['state'] if k.startswith(part)]
        assert keys, part
        for key in keys:
            assert torch.equal(state[key], full_run['state'][key]), key
    _assert_equal(state, full_run['state'])
    _assert_equal(runner.optim_wrapper.state_dict(), full_run['optimizer'])
    hub = runner.message_hub
    assert (hub.get_scalar('train/loss').data[0] == full_run['losses']).all()
    assert (hub.get_scalar('train/lr').data[0] == full_run['lrs']).all()

    # not vacuous: the second half moved the prompts
    halfway = CheckpointLoader.load_checkpoint(str(checkpoint))['state_dict']
    key = 'backbone.prompts.3.up.weight'
    assert not torch.equal(halfway[key], state[key])
    assert state[key].abs().sum() > 0


@pytest.mark.slow
def test_same_seed_gives_identical_prompts(full_run, tiny_cfg, tmp_path):
    runner, batches = _train(_cfg(tiny_cfg, tmp_path))
    assert batches == full_run['batches']
    prompts = {
        k: v for k, v in runner.model.state_dict().items()
        if k.startswith('backbone.prompts.')
    }
    assert len(prompts) == 4 * 6  # 4 blocks: down, dw, up (weight, bias)
    for key, value in prompts.items():
        assert torch.equal(value, full_run['state'][key]), key


@pytest.mark.slow
def test_resume_with_other_prompt_stages_is_refused(full_run, tiny_cfg,
                                                    tmp_path):
    """A checkpoint of another ``prompt_cfg`` cannot silently resume: the
    optimizer state does not fit (the message is torch's; the model load
    before it only warns about the unexpected prompt keys)."""
    cfg = _cfg(tiny_cfg, tmp_path, stages=(2, 3))
    cfg.resume = True
    cfg.load_from = str(full_run['work_dir'] / f'iter_{N}.pth')
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match='loaded state dict has a different '
                       'number of parameter groups'):
        runner.train()


def test_resume_from_missing_checkpoint_names_it(tiny_cfg, tmp_path):
    cfg = _cfg(tiny_cfg, tmp_path)
    cfg.resume, cfg.load_from = True, str(tmp_path / 'iter_404.pth')
    runner = Runner.from_cfg(cfg)
    with pytest.raises(FileNotFoundError, match='iter_404.pth can not be '
                       'found'):
        runner.train()


@pytest.mark.slow
def test_train_py_resume_matches_uninterrupted_run(full_run, tool, tmp_path):
    """``tools/train.py --resume iter_N.pth`` in a fresh process ends with
    the same weights and optimizer state as the uninterrupted run."""
    rc, out = tool('tools/train.py', full_run['config_file'], '--work-dir',
                   tmp_path, '--resume',
                   full_run['work_dir'] / f'iter_{N}.pth')
    assert rc == 0, out[-5000:]
    assert f'resumed epoch: 0, iter: {N}' in out
    assert f'Advance dataloader {N} steps' in out
    resumed = CheckpointLoader.load_checkpoint(
        str(tmp_path / f'iter_{2 * N}.pth'))
    full = CheckpointLoader.load_checkpoint(
        str(full_run['work_dir'] / f'iter_{2 * N}.pth'))
    _assert_equal(resumed['state_dict'], full['state_dict'])
    _assert_equal(resumed['optimizer'], full['optimizer'])


@pytest.mark.slow
def test_test_py_evaluates_a_protune_runner_checkpoint(full_run, tool,
                                                       tmp_path):
    """``tools/test.py`` loads a Runner checkpoint of a Pro-tuned detector
    (``weights_only`` under torch >= 2.6) and evaluates it."""
    rc, out = tool('tools/test.py', full_run['config_file'],
                   full_run['work_dir'] / f'iter_{2 * N}.pth', '--work-dir',
                   tmp_path)
    assert rc == 0, out[-5000:]
    assert 'Load checkpoint from' in out
    assert 'coco/bbox_mAP' in out
