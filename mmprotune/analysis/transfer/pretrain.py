"""Pretraining a backbone on a synthetic source task (no model hub): an mmdet
``ResNet`` (``arch='resnet'``, the default) or a small mmseg
``SwinTransformer`` (``arch='swin'``); the logic of
``tools/misc/pretrain_backbone.py``.

Two source tasks (``task``) on images of
:func:`mmprotune.datasets.make_coco_shapes` drawn with their own seed (so they
differ from the demo's detection images):

``shapes`` (default, the demo's): multi-label classification, "which shapes
are in this image, and roughly where":

* a global head (average pooling + linear) predicts which of the 3 shape
  classes occur in the image;
* 1x1-conv heads on the stride-8/16/32 stages (the Swin: its stride-8 last
  stage) predict, per feature-map cell, which classes cover it (soft targets:
  the covered fraction of the cell).

  The per-cell labels give many more targets per image than the global ones,
  so the backbone learns transferable shape features in a couple of minutes
  on a CPU.

``count``: "how many shapes are in this image" (0-4 annotated instances,
whatever their class), a 5-way classification by the global head alone. The
backbone learns to find objects but is never asked what they are or exactly
where: the source of the transfer benchmark (:mod:`.source`), whose target
task (segmenting circles, squares and triangles) needs both.

The Swin (``SWIN_ARCH``, width ``embed_dims``) is made for 64 px images:
patch size 2, three stages of 2 blocks at strides 2, 4 and 8 (channels
E, 2E, 4E), 4 x 4 windows; the heads read its last (stride-8) stage, with
its output norm, as ``configs/_base_/models/fcn_swin-e32-p2-w4.py`` does.
Train it with ``lr=5e-4`` (as the transfer benchmark's Swin track does):
from scratch at the default 2e-3 it barely learns to count.

Only the backbone's ``state_dict()`` is saved (with the BN statistics of
training, as a frozen backbone uses them), as
``{'state_dict': {'conv1.weight': ..., 'bn1.weight': ..., 'layer1...': ...}}``
(Swin: ``patch_embed...``, ``stages...``, ``norm2...``), which is what
``init_cfg=dict(type='Pretrained', checkpoint=...)`` loads::

    python tools/misc/pretrain_backbone.py \
        --out work_dirs/demo/resnet18_shapes-pretrain.pth
    python tools/misc/pretrain_backbone.py --arch swin --task count \
        --lr 5e-4 --out work_dirs/transfer-swin/swin-e32_count.pth
"""
import io
import json
import os
import os.path as osp
import tempfile
import time
from dataclasses import dataclass
from typing import Dict, List, Tuple

import numpy as np
import pycocotools.mask as mask_util
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.models.backbones import ResNet
from mmengine.logging import MMLogger
from mmseg.models.backbones import SwinTransformer
from PIL import Image

from ...datasets import SHAPE_CLASSES, make_coco_shapes
from ...utils import atomic_write

#: ImageNet statistics (RGB), as in mmdet's ``DetDataPreprocessor`` configs.
MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)
#: Stages (``out_indices``) with a per-cell head (``shapes`` task), per
#: ``--arch``: ResNet strides 8, 16, 32; the Swin's stride-8 last stage. The
#: global head reads the last of them.
DENSE_STAGES = dict(resnet=(1, 2, 3), swin=(2, ))
#: The ``--arch swin`` backbone (mmseg ``SwinTransformer`` arguments besides
#: ``embed_dims``, ``out_indices`` and ``pretrain_img_size``): stride 8 after
#: three stages at 64 px, no stochastic depth (a frozen copy has none).
SWIN_ARCH = dict(
    depths=(2, 2, 2),
    num_heads=(1, 2, 4),
    patch_size=2,
    strides=(2, 2, 2),
    window_size=4,
    drop_path_rate=0.0)
#: Count task: 0..MAX_COUNT annotated shapes per image.
MAX_COUNT = 4


@dataclass
class PretrainSettings:
    """What :func:`pretrain_backbone` trains, and where it saves it.

    Args:
        out (str): The checkpoint to write.
        task (str): The source task, ``'shapes'`` or ``'count'`` (see the
            module docstring).
        arch (str): The backbone, ``'resnet'`` (mmdet ``ResNet``) or
            ``'swin'`` (the small mmseg ``SwinTransformer`` of
            :data:`SWIN_ARCH`).
        depth (int): ResNet depth.
        base_channels (int): ResNet width (channels of the stem and the
            first stage).
        embed_dims (int): Swin width (channels of the first stage).
        iters (int): Training iterations.
        img_size (int): Square image side.
        batch_size (int): Images per iteration.
        num_images (int): Source training images (plus a tenth as many for
            validation).
        lr (float): Peak learning rate (AdamW, one-cycle schedule).
        seed (int): Seed of the source images and of training (the demo
            draws its detection data with seed 0).
    """
    out: str = 'work_dirs/demo/resnet18_shapes-pretrain.pth'
    task: str = 'shapes'
    arch: str = 'resnet'
    depth: int = 18
    base_channels: int = 64
    embed_dims: int = 32
    iters: int = 300
    img_size: int = 64
    batch_size: int = 32
    num_images: int = 2000
    lr: float = 2e-3
    seed: int = 1


def load_split(data_root: str, split: str) -> Tuple[torch.Tensor, ...]:
    """Images (N, 3, H, W) uint8 RGB, per-class masks (N, C, H, W) uint8 and
    annotated instances per image (N, ) int64 of a COCO-layout split."""
    with open(osp.join(data_root, 'annotations',
                       f'instances_{split}2017.json')) as f:
        coco = json.load(f)
    index = {img['id']: i for i, img in enumerate(coco['images'])}
    images = np.stack([
        np.asarray(
            Image.open(osp.join(data_root, f'{split}2017',
                                img['file_name'])).convert('RGB'))
        for img in coco['images']
    ])
    n, h, w, _ = images.shape
    masks = np.zeros((n, len(SHAPE_CLASSES), h, w), dtype=np.uint8)
    counts = np.zeros(n, dtype=np.int64)
    for ann in coco['annotations']:
        masks[index[ann['image_id']], ann['category_id'] - 1] |= \
            mask_util.decode(ann['segmentation'])
        counts[index[ann['image_id']]] += 1
    return (torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(),
            torch.from_numpy(masks), torch.from_numpy(counts))


def build_backbone(args: PretrainSettings,
                   out_indices: Tuple[int, ...]) -> Tuple[nn.Module,
                                                          List[int]]:
    """The initialised ``args.arch`` backbone with outputs ``out_indices``,
    and the channels of each output."""
    if args.arch == 'swin':
        backbone = SwinTransformer(
            embed_dims=args.embed_dims,
            out_indices=out_indices,
            pretrain_img_size=args.img_size,
            **SWIN_ARCH)
        channels = [backbone.num_features[i] for i in out_indices]
    else:
        # BN in training mode, so the checkpoint holds the real statistics
        # that a frozen backbone (BN in eval mode) uses downstream
        backbone = ResNet(
            depth=args.depth,
            base_channels=args.base_channels,
            out_indices=out_indices,
            norm_eval=False)
        channels = [backbone.feat_dim // 2**(3 - i) for i in out_indices]
    # silence mmengine's per-parameter init report
    MMLogger.get_instance('pretrain_backbone', log_level='WARNING')
    backbone.init_weights()
    return backbone, channels


class ShapesClassifier(nn.Module):
    """A backbone with a global head (average pooling + linear) on its last
    output and, with ``dense``, a per-cell head (1x1 conv) on each output."""

    def __init__(self, backbone: nn.Module, channels: List[int],
                 num_classes: int, dense: bool):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(channels[-1], num_classes)
        self.dense_heads = nn.ModuleList(
            nn.Conv2d(c, num_classes, 1) for c in (channels if dense else ()))
        self.register_buffer('mean', torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer('std', torch.tensor(STD).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor
                ) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """(N, 3, H, W) uint8 RGB -> (N, C) image logits and (N, C, h, w)
        cell logits of each dense stage."""
        x = (images.float() - self.mean) / self.std
        feats = self.backbone(x)
        return (self.head(feats[-1].mean((2, 3))),
                [head(f) for head, f in zip(self.dense_heads, feats)])


def build_classifier(args: PretrainSettings) -> ShapesClassifier:
    """The classifier of the source task ``args.task``: 3 shape labels and
    per-cell heads on the arch's ``DENSE_STAGES`` (``shapes``), or 5 count
    classes from the global head on the last of them alone (``count``)."""
    stages = DENSE_STAGES[args.arch]
    if args.task == 'shapes':
        backbone, channels = build_backbone(args, stages)
        return ShapesClassifier(backbone, channels, len(SHAPE_CLASSES), True)
    backbone, channels = build_backbone(args, stages[-1:])
    return ShapesClassifier(backbone, channels, MAX_COUNT + 1, False)


def targets(masks: torch.Tensor,
            cell_logits: List[torch.Tensor]) -> Tuple[torch.Tensor, list]:
    """Image labels (N, C) and the covered fraction of each cell."""
    masks = masks.float()
    labels = masks.flatten(2).amax(2)
    cells = [
        F.adaptive_avg_pool2d(masks, logits.shape[-2:])
        for logits in cell_logits
    ]
    return labels, cells


def loss_fn(model: nn.Module, images: torch.Tensor, masks: torch.Tensor,
            counts: torch.Tensor) -> torch.Tensor:
    """Mean BCE of the global and per-cell shape labels, or the count
    cross-entropy when the model has no per-cell heads."""
    logits, cell_logits = model(images)
    if not cell_logits:
        return F.cross_entropy(logits, counts.clamp(max=MAX_COUNT))
    labels, cells = targets(masks, cell_logits)
    loss = F.binary_cross_entropy_with_logits(logits, labels)
    for pred, target in zip(cell_logits, cells):
        loss = loss + F.binary_cross_entropy_with_logits(pred, target)
    return loss / (1 + len(cell_logits))


@torch.no_grad()
def evaluate(model: nn.Module, images: torch.Tensor, masks: torch.Tensor,
             counts: torch.Tensor, batch_size: int) -> Dict[str, float]:
    """Shapes task: image-label accuracy, exact-match accuracy (all labels
    right) and stride-8 cell accuracy (cells more than half covered). Count
    task: count accuracy."""
    model.eval()
    right, exact, cell_right, cell_total = 0., 0., 0., 0
    for i in range(0, len(images), batch_size):
        logits, cell_logits = model(images[i:i + batch_size])
        if not cell_logits:
            right += logits.argmax(1).eq(
                counts[i:i + batch_size].clamp(max=MAX_COUNT)).sum().item()
            continue
        labels, cells = targets(masks[i:i + batch_size], cell_logits)
        ok = (logits > 0).eq(labels > 0.5)
        right += ok.float().sum().item()
        exact += ok.all(1).float().sum().item()
        cell_right += (cell_logits[0] > 0).eq(cells[0] > 0.5).sum().item()
        cell_total += cells[0].numel()
    model.train()
    if not cell_total:
        return dict(count_acc=right / len(images))
    return dict(
        label_acc=right / (len(images) * masks.shape[1]),
        exact_acc=exact / len(images),
        cell_acc=cell_right / cell_total)


def pretrain_backbone(args: PretrainSettings) -> str:
    """Train ``args.arch`` on ``args.task`` (printing progress and, at
    every tenth of the schedule, the validation accuracies: the curve that
    shows whether the schedule is long enough), save its backbone's state
    dict to ``args.out`` and return the summary line (``'final train loss
    ...'``: loss and accuracies)."""
    torch.manual_seed(args.seed)
    start = time.time()
    with tempfile.TemporaryDirectory() as data_root:
        make_coco_shapes(
            data_root,
            num_train=args.num_images,
            num_val=max(1, args.num_images // 10),
            img_size=args.img_size,
            seed=args.seed)
        train_imgs, train_masks, train_counts = load_split(
            data_root, 'train')
        val_imgs, val_masks, val_counts = load_split(data_root, 'val')
    print(f'source data: {len(train_imgs)} train / {len(val_imgs)} val '
          f'images at {args.img_size} px (seed {args.seed}), '
          f'{time.time() - start:.1f}s')

    model = build_classifier(args)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=args.lr, weight_decay=0.05)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, total_steps=args.iters, pct_start=0.1)
    generator = torch.Generator().manual_seed(args.seed)
    order = torch.randperm(len(train_imgs), generator=generator)
    pos, window = 0, []
    for it in range(1, args.iters + 1):
        if pos + args.batch_size > len(order):
            order = torch.randperm(len(train_imgs), generator=generator)
            pos = 0
        idx = order[pos:pos + args.batch_size]
        pos += args.batch_size
        images, masks, counts = (train_imgs[idx], train_masks[idx],
                                 train_counts[idx])
        flip = torch.rand(len(idx), generator=generator) < 0.5
        images[flip] = images[flip].flip(-1)
        masks[flip] = masks[flip].flip(-1)
        loss = loss_fn(model, images, masks, counts)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        window = (window + [loss.item()])[-20:]
        if it % 50 == 0 or it == args.iters:
            print(f'iter {it}/{args.iters} loss {np.mean(window):.4f} '
                  f'({time.time() - start:.0f}s)', flush=True)
        if it % max(1, args.iters // 10) == 0:
            print(f'iter {it}/{args.iters} val: ' + ', '.join(
                f'{k} {v:.3f}' for k, v in evaluate(
                    model, val_imgs, val_masks, val_counts,
                    args.batch_size).items()), flush=True)
    n_val = len(val_imgs)
    train = evaluate(model, train_imgs[:n_val], train_masks[:n_val],
                     train_counts[:n_val], args.batch_size)
    val = evaluate(model, val_imgs, val_masks, val_counts, args.batch_size)
    if args.task == 'count':
        summary = (f'final train loss {np.mean(window):.4f}, train count '
                   f'accuracy {train["count_acc"]:.3f}; val count accuracy '
                   f'{val["count_acc"]:.3f}')
    else:
        summary = (f'final train loss {np.mean(window):.4f}, train label '
                   f'accuracy {train["label_acc"]:.3f}; val label accuracy '
                   f'{val["label_acc"]:.3f}, val exact-match accuracy '
                   f'{val["exact_acc"]:.3f}, val cell accuracy '
                   f'{val["cell_acc"]:.3f}')
    print(summary)

    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    state_dict = {
        k: v.detach().clone()
        for k, v in model.backbone.state_dict().items()
    }
    # serialised in memory, then written atomically: a crash or a full disk
    # leaves the previous checkpoint, never a truncated one
    buffer = io.BytesIO()
    torch.save(dict(state_dict=state_dict), buffer)
    atomic_write(buffer.getvalue(), args.out)
    print(f'saved {len(state_dict)} backbone tensors to {args.out} '
          f'({time.time() - start:.0f}s in all)')
    return summary
