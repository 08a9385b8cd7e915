"""The controlled transfer benchmark: every tuning method, the same data,
schedule and evaluation, several seeds, on data and weights made here; the
logic of ``tools/benchmark_transfer.py``.

1. Source: a narrow ResNet-18 (width 16; ``--backbone resnet18``, the
   default) or a small Swin Transformer (width 32, patch 2, three stages;
   ``--backbone swin``) is pretrained to *count* the shapes in 64 px images
   (:func:`.pretrain.pretrain_backbone`, task ``count``) and saved as a
   plain backbone checkpoint (:func:`.source.pretrain`).
2. Target (``--task``, :data:`.catalog.TASKS`), on other images
   (:func:`.data.make_target_data`): semantic segmentation of circles,
   squares and triangles (``seg``, the default:
   :func:`mmprotune.datasets.make_ade20k_shapes`, an mmseg FCN head on the
   backbone's stride-8 last stage, mIoU) or the class of the image's one
   shape (``cls``: :func:`mmprotune.datasets.make_imagenet_shapes`, an
   mmpretrain ``ImageClassifier`` with a linear head on the pooled last
   stage, top-1 accuracy). Each method has a config per task and backbone
   (:func:`.catalog.config_path`) that loads the source through
   ``init_cfg=dict(type='Pretrained', checkpoint=...)``.
3. Three disjoint image sets per target (:func:`.data.make_target_data`): a
   *selection* split (the first ``num_select`` training images, only for
   choosing), a training *pool* (the training images after it; a seed
   draws each run's split from it, :func:`.data.train_indices`) and the
   held-out *test* split (the validation images, only for the tables).
4. Each method, on each split size, trains from the same checkpoint
   through a fresh mmengine ``Runner`` (:mod:`.run`) at every learning rate
   of ``lr_grid`` (and, if it trains backbone parameters, every
   ``backbone_lr_mults`` multiplier of them: :func:`.study.settings_grid`)
   with seed 0, evaluated on the selection split by the training loop's
   validations (a curve, the last point its score); the best setting
   (:func:`.stats.choose_setting`) then trains with each seed and is
   evaluated on the test split (:func:`.study.run_all`; not with
   ``select_only``). Every run also measures its peak training memory
   (:func:`.run.peak_train_bytes`). Each finished run is recorded
   (:mod:`.records`, keyed by :func:`.run.run_key`) and skipped by a rerun;
   the statistics are :mod:`.stats`, the report :mod:`.report`. See
   docs/transfer_benchmark.md.

The modules, in import order: :mod:`.pretrain` (pretraining a source
backbone), :mod:`.records`, :mod:`.catalog` (tracks, tasks, methods,
configs), :mod:`.settings`, :mod:`.data`, :mod:`.source`, :mod:`.run`,
:mod:`.stats`, :mod:`.study`, :mod:`.report`.
"""
