"""Tiny data, pretrained-style backbones and CPU-sized versions of the
repository's RetinaNet and UPerNet Pro-tuning configs, shared by the
reliability tests."""
from pathlib import Path

import pytest
import torch
from mmdet.models.backbones import ResNet as DetResNet
from mmengine.config import Config
from mmseg.models.backbones import ResNetV1c as SegResNetV1c

from mmprotune.datasets import make_ade20k_shapes, make_coco_shapes
from mmprotune.testing import tiny_config, write_pretrained_checkpoint

REPO = Path(__file__).resolve().parents[2]
DET_CONFIG = REPO / 'configs/retinanet/retinanet_protune-r50_fpn_1x_coco.py'
SEG_CONFIG = (REPO / 'configs/upernet/'
              'upernet_protune-r50_4xb4-160k_ade20k-512x512.py')
IMG = 64
#: ResNet-18 with 8 base channels: stage outputs 8, 16, 32, 64.
RESNET = dict(depth=18, base_channels=8, stem_channels=8)
CHANNELS = [8, 16, 32, 64]


@pytest.fixture(scope='module', autouse=True)
def _one_thread():
    """One intra-op thread: these tiny convolutions gain nothing from more,
    and on a busy 2-core machine spinning OpenMP threads slow them down
    several times over. Tools run in subprocesses get the same setting."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _restore_determinism():
    """``randomness.deterministic=True`` switches torch to deterministic
    algorithms for the whole process; switch back after each test."""
    enabled = torch.are_deterministic_algorithms_enabled()
    yield
    torch.use_deterministic_algorithms(enabled)


@pytest.fixture(scope='session')
def data_roots(tmp_path_factory):
    root = tmp_path_factory.mktemp('reliability_data')
    make_coco_shapes(str(root / 'coco'), num_train=8, num_val=2,
                     img_size=IMG)
    make_ade20k_shapes(str(root / 'ade'), num_train=8, num_val=2,
                       img_size=IMG)
    return dict(mmdet=str(root / 'coco'), mmseg=str(root / 'ade'))


@pytest.fixture(scope='session')
def pretrained(tmp_path_factory):
    """Pretrained-style checkpoints (bare backbone keys) of the upstream
    backbones that the tiny configs wrap."""
    root = tmp_path_factory.mktemp('pretrained')
    paths = dict(mmdet=root / 'resnet18_det.pth',
                 mmseg=root / 'resnet18_v1c_seg.pth')
    write_pretrained_checkpoint(DetResNet(**RESNET), paths['mmdet'])
    write_pretrained_checkpoint(SegResNetV1c(**RESNET), paths['mmseg'])
    return {k: str(v) for k, v in paths.items()}


def _shrink_model(cfg: Config) -> Config:
    cfg.model.backbone.update(RESNET)
    if cfg.default_scope == 'mmdet':
        cfg.model.neck.update(in_channels=CHANNELS, out_channels=16)
        cfg.model.bbox_head.update(
            num_classes=3, in_channels=16, feat_channels=16,
            stacked_convs=1)
    else:
        cfg.model.decode_head.update(
            in_channels=CHANNELS, channels=16, num_classes=4)
        cfg.model.auxiliary_head.update(
            in_channels=CHANNELS[2], channels=16, num_classes=4)
    return cfg


@pytest.fixture(scope='session')
def tiny_cfg(data_roots):
    """``tiny_cfg(scope, work_dir, max_iters=1, checkpoint=None,
    img_size=64)``: the repository's Pro-tuning RetinaNet (``'mmdet'``) or
    UPerNet (``'mmseg'``) config with a ResNet-18/8 backbone on the 64 px
    synthetic data, resized to ``img_size``."""

    def make(scope, work_dir, max_iters=1, checkpoint=None, img_size=IMG):
        path = DET_CONFIG if scope == 'mmdet' else SEG_CONFIG
        cfg = tiny_config(
            Config.fromfile(str(path)), data_roots[scope], str(work_dir),
            img_size=img_size, max_iters=max_iters, checkpoint=checkpoint)
        return _shrink_model(cfg)

    return make


@pytest.fixture(scope='session')
def tool(tool):
    """The suite's ``tool`` fixture with one OpenMP thread per tool, as
    :func:`_one_thread` sets in-process."""

    def run(script, *args, **kwargs):
        return tool(script, *args, env=dict(OMP_NUM_THREADS='1'), **kwargs)

    return run
