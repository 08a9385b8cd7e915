"""Delta checkpoints with the real mmengine Runner: a tiny Pro-tuned RetinaNet
(from ``configs/retinanet/retinanet_protune-r50_fpn_1x_coco.py`` with a
ResNet-18 of 16 base channels) trains 4 iterations with
``DeltaCheckpointHook``; its deltas are checked, resumed, tested with
``tools/test.py``, merged with ``tools/merge_delta.py`` (and
:func:`~mmprotune.engine.delta.merge_delta`) and refused on another base.
A tiny Pro-tuned mmpretrain classifier makes the same save + merge round
trip."""
import os
import pickle
import re
import subprocess
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from mmdet.models.backbones import ResNet
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.hub import get_config
from mmengine.registry import MODELS, init_default_scope
from mmengine.runner import Runner, load_checkpoint, save_checkpoint

import mmprotune.engine.hooks  # noqa: F401  (registers DeltaCheckpointHook)
from mmprotune.datasets import (SHAPE_CLASSES, make_coco_shapes,
                                make_imagenet_shapes)
from mmprotune.engine.delta import (DELTA_META_KEY, DeltaBaseMismatchError,
                                    FrozenBase, frozen_backbone_sha256,
                                    frozen_state_dict, is_delta, merge_delta,
                                    split_delta)
from mmprotune.models import ProTuneResNet
from mmprotune.testing import (REPO_ROOT, repo_env, tiny_config, tool_command,
                               write_pretrained_checkpoint)
from mmprotune.version import __version__

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / 'configs/retinanet/retinanet_protune-r50_fpn_1x_coco.py'
IMG = 64
BACKBONE = dict(depth=18, base_channels=16)
CHANNELS = [16, 32, 64, 128]
CLS_CONFIG = REPO / ('configs/image-classifier/'
                     'image-classifier_protune-r50_8xb32-100e_in1k.py')


def make_config(data_root, work_dir, pretrained, max_iters=4, hook=True):
    """The repository's RetinaNet Pro-tuning config, shrunk for a CPU, with
    delta checkpoints every 2 iterations and a test split."""
    base = Config.fromfile(str(CONFIG))
    cfg = tiny_config(base, str(data_root), str(work_dir), img_size=IMG,
                      max_iters=max_iters, checkpoint=pretrained)
    # in a subprocess too, before mmprotune/engine/__init__.py imports hooks
    cfg.custom_imports = dict(
        imports=['mmprotune', 'mmprotune.engine.hooks'],
        allow_failed_imports=False)
    cfg.model.backbone.update(BACKBONE, prompt_cfg=dict(hidden_channels=8))
    cfg.model.neck.update(in_channels=CHANNELS, out_channels=16)
    cfg.model.bbox_head.update(
        num_classes=len(SHAPE_CLASSES), in_channels=16, feat_channels=16,
        stacked_convs=1)
    # barely trained: keep low-score boxes so that predictions differ
    cfg.model.test_cfg.update(score_thr=0.0, max_per_img=10)
    cfg.custom_hooks = [dict(type='DeltaCheckpointHook')] if hook else []
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', by_epoch=False, interval=2)
    cfg.log_processor = dict(by_epoch=False)

    loader = base.test_dataloader
    loader.update(batch_size=2, num_workers=0, persistent_workers=False)
    loader.dataset.update(data_root=str(data_root),
                          metainfo=dict(classes=SHAPE_CLASSES))
    for transform in loader.dataset.pipeline:
        if 'scale' in transform:
            transform['scale'] = (IMG, IMG)
    cfg.test_dataloader = loader
    cfg.test_evaluator = dict(
        base.test_evaluator,
        ann_file=str(Path(data_root) / 'annotations/instances_val2017.json'))
    cfg.test_cfg = dict(type='TestLoop')
    return cfg


class Snapshot(Hook):
    """Keeps the model state and optimizer step when training (re)starts,
    i.e. after loading / resuming."""

    def before_train(self, runner):
        self.state = {
            k: v.detach().clone()
            for k, v in runner.model.state_dict().items()
        }
        self.steps = [
            int(s['step'])
            for s in runner.optim_wrapper.optimizer.state.values()
        ]
        self.iter = runner.iter


def start_tool(script, *args):
    """Start the repository's ``script`` with ``args`` in a fresh Python
    (this checkout first on its path), without waiting for it."""
    return subprocess.Popen(tool_command(script, *args),
                            cwd=REPO_ROOT,
                            env=repo_env(),
                            stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT,
                            text=True)


def finish_tool(proc, timeout=300):
    """Wait for a :func:`start_tool` process; fail with its output unless it
    succeeded; return the output."""
    try:
        output = proc.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        output = proc.communicate()[0]
    assert proc.returncode == 0, output[-5000:]
    return output


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Train 4 iterations with deltas at 2 and 4; also write the full
    checkpoint mmengine would have written at 4 without the hook."""
    root = tmp_path_factory.mktemp('delta')
    make_coco_shapes(str(root / 'coco'), num_train=4, num_val=4,
                     img_size=IMG)
    pretrained = str(root / 'resnet18_base.pth')
    base_state = write_pretrained_checkpoint(ResNet(**BACKBONE), pretrained)
    other = str(root / 'resnet18_other.pth')
    write_pretrained_checkpoint(ResNet(**BACKBONE), other, seed=1)

    cfg = make_config(root / 'coco', root / 'train', pretrained)
    runner = Runner.from_cfg(cfg)
    runner.train()
    state = {
        k: v.detach().clone()
        for k, v in runner.model.state_dict().items()
    }
    delta = root / 'train' / 'iter_4.pth'
    # the same checkpoint as the delta, with the whole state dict: what the
    # Runner saves without the hook
    full = torch.load(delta, weights_only=False)
    full['meta'].pop(DELTA_META_KEY)
    full['state_dict'] = OrderedDict(
        (k, v.cpu()) for k, v in runner.model.state_dict().items())
    save_checkpoint(full, str(root / 'full_iter_4.pth'))
    cfg_file = root / 'retinanet_delta.py'
    cfg.dump(str(cfg_file))
    return dict(
        root=root,
        cfg=cfg,
        cfg_file=cfg_file,
        pretrained=pretrained,
        base_state=base_state,
        other=other,
        state=state,
        model=runner.model,
        delta=delta,
        full=root / 'full_iter_4.pth')


def test_sha256_depends_on_frozen_values_only():
    backbone = ProTuneResNet(depth=18, base_channels=8)
    digest = frozen_backbone_sha256(backbone)
    state = frozen_state_dict(backbone)
    assert not any(k.startswith('prompts.') for k in state)
    assert 'bn1.running_mean' in state and 'layer4.1.conv2.weight' in state
    assert re.fullmatch('[0-9a-f]{64}', digest)
    assert frozen_backbone_sha256(OrderedDict(reversed(state.items()))) == \
        digest
    with torch.no_grad():
        backbone.prompts['0'].up.weight.add_(1)  # prompts are not the base
    assert frozen_backbone_sha256(backbone) == digest
    with torch.no_grad():
        backbone.layer4[1].bn2.running_var[3] += 1e-3
    assert frozen_backbone_sha256(backbone) != digest
    renamed = OrderedDict((k.replace('layer4', 'layer5'), v)
                          for k, v in state.items())
    assert frozen_backbone_sha256(renamed) != frozen_backbone_sha256(state)


def test_pretrained_checkpoint_of_mmseg_pretrained():
    cfg = get_config('mmseg::fcn/fcn_r50-d8_4xb4-80k_ade20k-512x512.py')
    cfg.model.backbone.update(type='ProTuneResNetV1c', depth=18,
                              base_channels=8, stem_channels=8)
    cfg.model.pretrained = 'work_dirs/base/resnet18_v1c.pth'
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    assert FrozenBase.of(model).backbone.pretrained_checkpoint == \
        'work_dirs/base/resnet18_v1c.pth'


@pytest.mark.slow
def test_delta_keeps_what_trains(trained):
    delta = torch.load(trained['delta'], weights_only=False)
    full = torch.load(trained['full'], weights_only=False)
    model, state = trained['model'], trained['state']
    assert is_delta(delta) and not is_delta(full)

    frozen = {k for k in state
              if k.startswith('backbone.') and
              not k.startswith('backbone.prompts.')}
    assert frozen and not frozen & set(delta['state_dict'])
    assert set(delta['state_dict']) == set(state) - frozen
    assert any(k.startswith('backbone.prompts.') for k in delta['state_dict'])
    assert any(k.startswith('neck.') for k in delta['state_dict'])
    assert any(k.startswith('bbox_head.') for k in delta['state_dict'])
    for key, value in delta['state_dict'].items():
        assert torch.equal(value, state[key]), key
    assert split_delta(model, full['state_dict'])[0].keys() == \
        delta['state_dict'].keys()
    # what resuming needs is still there
    for key in ('optimizer', 'param_schedulers', 'message_hub'):
        assert key in delta
    assert delta['meta']['iter'] == 4

    info = delta['meta'][DELTA_META_KEY]
    assert info == dict(
        base_checkpoint=trained['pretrained'],
        base_sha256=frozen_backbone_sha256(trained['base_state']),
        mmprotune_version=__version__)
    # the hash of the pretrained file's tensors, as they were loaded
    assert info['base_sha256'] == frozen_backbone_sha256(
        torch.load(trained['pretrained'])['state_dict'])

    delta_size = os.path.getsize(trained['delta'])
    full_size = os.path.getsize(trained['full'])
    print(f'delta {delta_size:,} B, full {full_size:,} B')
    assert delta_size < full_size / 4


@pytest.mark.slow
def test_resume_from_delta(trained, tmp_path):
    cfg = make_config(trained['root'] / 'coco', tmp_path,
                      trained['pretrained'], max_iters=6)
    cfg.resume = True
    cfg.load_from = str(trained['delta'])
    runner = Runner.from_cfg(cfg)
    snapshot = Snapshot()
    runner.register_hook(snapshot)
    runner.train()

    assert snapshot.iter == 4 and runner.iter == 6
    assert snapshot.steps and set(snapshot.steps) == {4}
    for key, value in trained['state'].items():  # the delta + its base
        assert torch.equal(snapshot.state[key], value), key
    for key, value in trained['base_state'].items():
        assert torch.equal(runner.model.state_dict()['backbone.' + key],
                           value), key
    resumed = torch.load(tmp_path / 'iter_6.pth', weights_only=False)
    assert is_delta(resumed) and resumed['meta']['iter'] == 6


def _coco_metrics(output):
    return re.findall(r'coco/bbox_\w+: [-\d.]+', output)


@pytest.mark.slow
def test_tools_test_from_delta_equals_full(trained, tmp_path):
    procs = {
        name: start_tool('tools/test.py', trained['cfg_file'],
                         trained[name], '--work-dir', tmp_path / name,
                         '--out', tmp_path / f'{name}.pkl')
        for name in ('delta', 'full')
    }
    outputs, preds = {}, {}
    for name, proc in procs.items():
        outputs[name] = finish_tool(proc)
        with open(tmp_path / f'{name}.pkl', 'rb') as f:
            preds[name] = pickle.load(f)
    assert 'loading a delta checkpoint' in outputs['delta']
    metrics = _coco_metrics(outputs['delta'])
    assert len(metrics) == 6 and metrics == _coco_metrics(outputs['full'])

    assert len(preds['delta']) == len(preds['full']) == 4
    for pred_delta, pred_full in zip(preds['delta'], preds['full']):
        for key in ('bboxes', 'scores', 'labels'):
            assert torch.equal(pred_delta['pred_instances'][key],
                               pred_full['pred_instances'][key])


@pytest.mark.slow
def test_merge_delta(trained, tmp_path):
    merged_file = tmp_path / 'merged.pth'
    finish_tool(
        start_tool('tools/merge_delta.py', trained['cfg_file'],
                   trained['delta'], merged_file))
    merged = torch.load(merged_file, weights_only=True)
    assert set(merged) == {'meta', 'state_dict'} and not is_delta(merged)
    assert merged['meta']['mmprotune_merged']['base_sha256'] == \
        frozen_backbone_sha256(trained['base_state'])
    for key, value in trained['state'].items():
        assert torch.equal(merged['state_dict'][key], value), key

    # delta + base, as tools/test.py loads it: a Runner that has not
    # initialised its model
    runner = Runner.from_cfg(
        make_config(trained['root'] / 'coco', tmp_path / 'delta',
                    trained['pretrained']))
    runner.load_checkpoint(str(trained['delta']))
    # merged, loaded by plain mmengine without the base or the hook
    cfg = make_config(trained['root'] / 'coco', tmp_path / 'merged', None,
                      hook=False)
    init_default_scope('mmdet')
    plain = MODELS.build(cfg.model)
    load_checkpoint(plain, str(merged_file), strict=True)

    inputs = torch.rand(2, 3, IMG, IMG,
                        generator=torch.Generator().manual_seed(0))
    results = []
    for model in (runner.model, plain, trained['model']):
        model.eval()
        with torch.no_grad():
            results.append(model._forward(inputs))
    for other in results[1:]:
        for level_a, level_b in zip(sum(results[0], []), sum(other, [])):
            assert torch.allclose(level_a, level_b)


def _check_refusal(message, trained):
    info = torch.load(trained['delta'], weights_only=False)['meta'][
        DELTA_META_KEY]
    other_sha = frozen_backbone_sha256(
        torch.load(trained['other'])['state_dict'])
    assert info['base_sha256'] in message and other_sha in message
    assert trained['pretrained'] in message and trained['other'] in message


@pytest.mark.slow
def test_delta_on_another_base_is_refused(trained, tmp_path):
    # tools/test.py path: the Runner loads the other base, then refuses
    cfg = make_config(trained['root'] / 'coco', tmp_path / 'test',
                      trained['other'])
    runner = Runner.from_cfg(cfg)
    with pytest.raises(DeltaBaseMismatchError) as err:
        runner.load_checkpoint(str(trained['delta']))
    _check_refusal(str(err.value), trained)
    # resume path: the Runner initialised the model with the other base
    cfg = make_config(trained['root'] / 'coco', tmp_path / 'resume',
                      trained['other'], max_iters=6)
    cfg.resume, cfg.load_from = True, str(trained['delta'])
    with pytest.raises(DeltaBaseMismatchError) as err:
        Runner.from_cfg(cfg).train()
    _check_refusal(str(err.value), trained)
    # merge tool
    cfg = Config.fromfile(str(trained['cfg_file']))
    cfg.model.backbone.init_cfg.checkpoint = trained['other']
    with pytest.raises(DeltaBaseMismatchError) as err:
        merge_delta(cfg, str(trained['delta']), str(tmp_path / 'merged.pth'))
    _check_refusal(str(err.value), trained)
    assert not (tmp_path / 'merged.pth').exists()


@pytest.mark.slow
def test_hook_needs_a_pretrained_base(trained, tmp_path):
    cfg = make_config(trained['root'] / 'coco', tmp_path, None)
    with pytest.raises(ValueError, match='loads no pretrained checkpoint'):
        Runner.from_cfg(cfg).train()
    assert not list(tmp_path.glob('*.pth'))


def test_classifier_delta_and_merge_round_trip(tmp_path):
    """An mmpretrain ``ImageClassifier`` with a ``ProTuneResNet`` (the
    repository's ImageNet config, shrunk): its delta lacks exactly the frozen
    backbone; merged with its base it is the trained classifier, which a
    plain mmengine load reproduces."""
    from mmpretrain.models.backbones import ResNet as ClsResNet
    make_imagenet_shapes(str(tmp_path / 'imagenet'), num_train=4, num_val=2,
                         img_size=IMG)
    pretrained = str(tmp_path / 'resnet18_base.pth')
    write_pretrained_checkpoint(ClsResNet(**BACKBONE), pretrained)
    cfg = tiny_config(Config.fromfile(str(CLS_CONFIG)),
                      str(tmp_path / 'imagenet'), str(tmp_path / 'train'),
                      img_size=IMG, max_iters=2, checkpoint=pretrained)
    cfg.model.backbone.update(BACKBONE, prompt_cfg=dict(hidden_channels=8))
    cfg.model.head.update(num_classes=len(SHAPE_CLASSES),
                          in_channels=CHANNELS[-1])
    cfg.data_preprocessor.num_classes = len(SHAPE_CLASSES)
    cfg.custom_hooks = [dict(type='DeltaCheckpointHook')]
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', by_epoch=False, interval=2)
    runner = Runner.from_cfg(cfg)
    runner.train()
    state = {
        k: v.detach().clone()
        for k, v in runner.model.state_dict().items()
    }
    delta_file = str(tmp_path / 'train' / 'iter_2.pth')
    delta = torch.load(delta_file, weights_only=False)
    frozen = {k for k in state
              if k.startswith('backbone.') and
              not k.startswith('backbone.prompts.')}
    assert is_delta(delta) and frozen
    assert set(delta['state_dict']) == set(state) - frozen

    merged = merge_delta(cfg, delta_file, str(tmp_path / 'merged.pth'))
    assert set(merged['state_dict']) == set(state)
    for key, value in state.items():
        assert torch.equal(merged['state_dict'][key], value), key
    init_default_scope('mmpretrain')
    plain = MODELS.build(cfg.model)
    load_checkpoint(plain, str(tmp_path / 'merged.pth'), strict=True)
    inputs = torch.rand(2, 3, IMG, IMG,
                        generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(plain.eval()(inputs, mode='tensor'),
                           runner.model.eval()(inputs, mode='tensor'))
