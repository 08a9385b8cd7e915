"""End-to-end checks of ``tools/{train,test}.py`` and ``tools/dist_*.sh``.

Every tool runs in a subprocess with a real mmengine Runner on tiny configs
that inherit the upstream mmdet / mmseg configs (ResNet-18 with 16 base
channels, 64-96 px synthetic images, 2-3 iterations), and on the repository's
ImageNet Pro-tuning ResNet-50 classifier (mmpretrain) shrunk by
:func:`mmprotune.testing.tiny_config`. The errors of bad input, raised
before a Runner is built, are checked with the tools' ``main`` in this
process.
"""
import pickle
import socket
import sys

import pytest
from mmengine.config import Config

from mmprotune.datasets import (SEG_CLASSES, SHAPE_CLASSES, make_ade20k_shapes,
                                make_coco_shapes, make_imagenet_shapes)
from mmprotune.testing import REPO_ROOT, tiny_config

NUM_VAL = 4
CLS_CONFIG = ('configs/image-classifier/'
              'image-classifier_protune-r50_8xb32-100e_in1k.py')

DET_CFG = """
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmprotune'], allow_failed_imports=False)
data_root = {data_root!r}
metainfo = dict(classes={classes!r})
img_scale = (96, 96)
model = dict(
    # untrained: keep low-score boxes so that COCO metrics get computed
    test_cfg=dict(score_thr=0.0, max_per_img=10),
    backbone=dict(
        depth=18, base_channels=16, norm_cfg=dict(type='BN'), init_cfg=None),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=32),
    bbox_head=dict(
        num_classes=3, in_channels=32, feat_channels=32, stacked_convs=1))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor')),
]
loader = dict(batch_size=2, num_workers=0, persistent_workers=False)
train_dataloader = dict(
    **loader,
    dataset=dict(
        data_root=data_root, metainfo=metainfo, pipeline=train_pipeline))
val_dataloader = dict(
    **loader,
    dataset=dict(
        data_root=data_root, metainfo=metainfo, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    ann_file=data_root + '/annotations/instances_val2017.json')
test_evaluator = val_evaluator
train_cfg = dict(
    _delete_=True, type='IterBasedTrainLoop', max_iters=2, val_interval=2)
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(by_epoch=False, interval=1000, save_last=True))
log_processor = dict(by_epoch=False)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
"""

SEG_CFG = """
_base_ = 'mmseg::fcn/fcn_r50-d8_4xb2-40k_cityscapes-512x1024.py'
custom_imports = dict(imports=['mmprotune'], allow_failed_imports=False)
data_root = {data_root!r}
crop_size = (64, 64)
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        depth=18, stem_channels=16, base_channels=16, norm_cfg=norm_cfg),
    decode_head=dict(
        in_channels=128, channels=32, num_classes=4, norm_cfg=norm_cfg),
    auxiliary_head=dict(
        in_channels=64, channels=16, num_classes=4, norm_cfg=norm_cfg))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
dataset = dict(
    _delete_=True,
    type='BaseSegDataset',
    data_root=data_root,
    img_suffix='.jpg',
    seg_map_suffix='.png',
    reduce_zero_label=True,
    metainfo=dict(classes={classes!r}, palette={palette!r}))
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        **dataset,
        data_prefix=dict(
            img_path='images/training', seg_map_path='annotations/training'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        **dataset,
        data_prefix=dict(
            img_path='images/validation',
            seg_map_path='annotations/validation'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
train_cfg = dict(max_iters=2, val_interval=2)
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval=1000, save_last=True))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
"""


@pytest.fixture(scope='module')
def configs(tmp_path_factory):
    root = tmp_path_factory.mktemp('launchers')
    det_root, seg_root = root / 'coco', root / 'ade'
    make_coco_shapes(str(det_root), 4, NUM_VAL, img_size=96, seed=0)
    make_ade20k_shapes(str(seg_root), 4, NUM_VAL, img_size=64, seed=0)
    palette = [[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]]
    det_cfg, seg_cfg = root / 'tiny_retinanet.py', root / 'tiny_fcn.py'
    det_cfg.write_text(
        DET_CFG.format(data_root=str(det_root), classes=SHAPE_CLASSES))
    seg_cfg.write_text(
        SEG_CFG.format(
            data_root=str(seg_root), classes=SEG_CLASSES, palette=palette))
    cls_root, cls_cfg = root / 'imagenet', root / 'tiny_classifier.py'
    make_imagenet_shapes(str(cls_root), 4, NUM_VAL, img_size=64, seed=0)
    cfg = tiny_config(
        Config.fromfile(f'{REPO_ROOT}/{CLS_CONFIG}'),
        str(cls_root),
        str(root / 'unused'),
        max_iters=2,
        validate=True)
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', by_epoch=False, interval=1000, save_last=True)
    cfg.dump(str(cls_cfg))
    return dict(root=root, mmdet=det_cfg, mmseg=seg_cfg, mmpretrain=cls_cfg)


@pytest.fixture(scope='module')
def trained(configs, tool):
    """Train both configs once; return their work dirs and outputs."""
    root = configs['root']
    # mmdet: --work-dir from the CLI and a --cfg-options override
    det_dir = root / 'det_work'
    det_run = tool('tools/train.py', configs['mmdet'], '--work-dir', det_dir,
                   '--cfg-options', 'train_cfg.max_iters=3')
    # mmseg: no --work-dir, so ./work_dirs/<config name> under the cwd
    seg_run = tool('tools/train.py', configs['mmseg'], cwd=root)
    seg_dir = root / 'work_dirs' / 'tiny_fcn'
    # mmpretrain: the scope comes from the config's default_scope
    cls_dir = root / 'cls_work'
    cls_run = tool('tools/train.py', configs['mmpretrain'], '--work-dir',
                   cls_dir)
    return dict(
        mmdet=(det_dir, det_run, 3),
        mmseg=(seg_dir, seg_run, 2),
        mmpretrain=(cls_dir, cls_run, 2))


@pytest.mark.slow
@pytest.mark.parametrize('scope', ['mmdet', 'mmseg', 'mmpretrain'])
def test_train(trained, scope):
    work_dir, (rc, out), iters = trained[scope]
    assert rc == 0, out[-5000:]
    assert f'[{iters}/{iters}]' in out
    assert (work_dir / f'iter_{iters}.pth').is_file()
    assert (work_dir / 'last_checkpoint').is_file()
    if scope == 'mmdet':  # max_iters=2 in the config, 3 from --cfg-options
        assert not (work_dir / 'iter_2.pth').exists()
    if scope == 'mmpretrain':  # validated after the last iteration
        assert 'accuracy/top1' in out
        assert 'trainable (ConvPromptBlock) of' in out


@pytest.mark.slow
def test_test_classifier(trained, configs, tool, tmp_path):
    """tools/test.py evaluates the classifier's checkpoint (mmpretrain's
    Accuracy on the val split)."""
    work_dir, (rc, _), iters = trained['mmpretrain']
    assert rc == 0, 'training failed'
    rc, log = tool('tools/test.py', configs['mmpretrain'],
                   work_dir / f'iter_{iters}.pth', '--work-dir', tmp_path)
    assert rc == 0, log[-5000:]
    assert 'accuracy/top1' in log and 'accuracy/top5' in log


@pytest.mark.slow
@pytest.mark.parametrize('scope', ['mmdet', 'mmseg'])
def test_test(trained, configs, scope, tool, tmp_path):
    work_dir, (rc, _), iters = trained[scope]
    assert rc == 0, 'training failed'
    if scope == 'mmdet':
        out, metric, extra = tmp_path / 'preds.pkl', 'coco/bbox_mAP', []
    else:  # mmseg's visualization hook draws every `interval` samples
        out, metric = tmp_path / 'pred_maps', 'mIoU'
        extra = ['--cfg-options', 'default_hooks.visualization.interval=1']
    show_dir = tmp_path / 'vis'
    ckpt = work_dir / f'iter_{iters}.pth'
    rc, log = tool('tools/test.py', configs[scope], ckpt, '--work-dir',
                   tmp_path, '--out', out, '--show-dir', show_dir, *extra)
    assert rc == 0, log[-5000:]
    assert metric in log
    if scope == 'mmdet':
        with open(out, 'rb') as f:
            assert len(pickle.load(f)) == NUM_VAL
    else:
        assert len(list(out.glob('*.png'))) == NUM_VAL
    assert len(list(show_dir.rglob('*.*g'))) == NUM_VAL


@pytest.mark.slow
def test_train_resume(trained, configs, tool, tmp_path):
    work_dir, (rc, _), _ = trained['mmdet']
    assert rc == 0, 'training failed'
    rc, out = tool('tools/train.py', configs['mmdet'], '--work-dir', tmp_path,
                   '--resume', work_dir / 'iter_3.pth', '--cfg-options',
                   'train_cfg.max_iters=4')
    assert rc == 0, out[-5000:]
    assert 'resumed epoch: 0, iter: 3' in out
    assert (tmp_path / 'iter_4.pth').is_file()


@pytest.mark.parametrize(
    'args, config, message', [
        (['train.py'], "default_scope = 'mmfoo'", "default_scope 'mmfoo'"),
        (['train.py'], 'work_dir = None', 'Unsupported default_scope None'),
        (['test.py', 'x.pth'], "default_scope = 'mmfoo'", "scope 'mmfoo'"),
        (['test.py', 'x.pth', '--out', 'x.json'], "default_scope = 'mmdet'",
         "--out must be a .pkl or .pickle file, got 'x.json'"),
        (['train.py', '--amp'], "default_scope = 'mmseg'\n"
         "optim_wrapper = dict(type='AmpOptimWrapper')",
         'AMP is already enabled'),
    ],
    ids=['scope', 'no-scope', 'test-scope', 'out', 'amp'])
def test_clear_errors(tmp_path, monkeypatch, tool_main, args, config,
                      message):
    """Bad input fails before a Runner is built, with a clear message (the
    tool's ``main`` in this process)."""
    script, *rest = args
    cfg = tmp_path / 'bad.py'
    cfg.write_text(config)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError) as error:
        tool_main(f'tools/{script}', cfg, *rest)
    assert message in str(error.value)
    if 'default_scope' in message:
        assert "expected one of ('mmdet', 'mmseg', 'mmpretrain')" in \
            str(error.value)


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_dist_train_test(configs, tool, tmp_path):
    """2 CPU processes (gloo) through tools/dist_{train,test}.sh."""
    def dist(script, *args):
        env = dict(PORT=str(_free_port()), PYTHON=sys.executable)
        return tool(f'tools/{script}', *args, env=env)

    work_dir = tmp_path / 'work'
    rc, out = dist('dist_train.sh', configs['mmdet'], 2, '--work-dir',
                   work_dir)
    assert rc == 0, out[-5000:]
    assert 'Distributed launcher: pytorch' in out
    assert 'Iter(train) [2/2]' in out
    assert (work_dir / 'iter_2.pth').is_file()

    out_file = tmp_path / 'preds.pkl'
    rc, out = dist('dist_test.sh', configs['mmdet'], work_dir / 'iter_2.pth',
                   2, '--work-dir', tmp_path / 'test', '--out', out_file)
    assert rc == 0, out[-5000:]
    assert 'coco/bbox_mAP' in out
    with open(out_file, 'rb') as f:
        assert len(pickle.load(f)) == NUM_VAL
