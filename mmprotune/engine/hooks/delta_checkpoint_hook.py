"""Save Runner checkpoints as per-task deltas on top of the frozen backbone,
and load them back."""
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ..delta import DELTA_META_KEY, FrozenBase, is_delta


@HOOKS.register_module()
class DeltaCheckpointHook(Hook):
    """Write only what Pro-tuning trains into every Runner checkpoint.

    Registered in mmengine's root ``HOOKS``, so mmdet, mmseg and mmpretrain
    configs find it. Without it, checkpoints stay the usual full ones:

    .. code-block:: python

        custom_hooks = [dict(type='DeltaCheckpointHook')]

    Saving (:meth:`before_save_checkpoint`): ``checkpoint['state_dict']``
    loses exactly the frozen wrapped backbone's parameters and buffers (the
    ``ProTune*`` backbone minus ``backbone.prompts``); the prompts, neck and
    heads with their buffers stay, and so do the optimizer, parameter
    scheduler and message hub states, so training resumes from a delta.
    ``checkpoint['meta']['mmprotune_delta']`` records the base:
    ``base_checkpoint`` (the backbone's ``init_cfg.checkpoint`` or mmseg's
    ``model.pretrained``), ``base_sha256`` (see
    :func:`mmprotune.engine.delta.frozen_backbone_sha256`) and
    ``mmprotune_version``.

    Loading (:meth:`after_load_checkpoint`, which ``Runner.load_checkpoint``
    calls before it loads the state dict into the model, for ``load_from``,
    ``resume`` and ``tools/test.py`` alike): for a delta, the frozen
    backbone's base weights are loaded if the runner has not initialised the
    model (``Runner.test`` / ``Runner.val`` do not), their hash must equal
    ``base_sha256`` (otherwise ``DeltaBaseMismatchError``, a ``ValueError``,
    names both hashes and both base checkpoints), and the checkpoint's state
    dict is completed with them before mmengine loads it. Other checkpoints
    load as usual.

    Its priority is ``'LOW'``, so that it sees a checkpoint being saved
    after hooks of higher priority edited it; ``priority`` in its config
    changes that, as for any hook.
    """
    priority = 'LOW'

    def before_train(self, runner) -> None:
        """Refuse to train if deltas could not be restored: the backbone must
        be a ``ProTune*`` one that loads a pretrained checkpoint."""
        backbone = FrozenBase.of(runner.model).backbone
        if backbone.pretrained_checkpoint is None:
            raise ValueError(
                f'{type(self).__name__}: {type(backbone).__name__} loads no '
                'pretrained checkpoint (backbone init_cfg=dict(type='
                '"Pretrained", checkpoint=...) or mmseg\'s model.pretrained), '
                'so its frozen weights are a random init that a delta '
                'checkpoint cannot restore. Set one, or remove '
                f'{type(self).__name__} to save full checkpoints.')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Drop the frozen backbone from ``checkpoint['state_dict']`` and
        record its base in ``checkpoint['meta']['mmprotune_delta']``."""
        base = FrozenBase.of(runner.model)
        full = checkpoint['state_dict']
        delta, frozen = base.split(full)
        info = base.meta()
        checkpoint['state_dict'] = delta
        checkpoint.setdefault('meta', {})[DELTA_META_KEY] = info
        kept = sum(t.numel() for t in delta.values())
        total = kept + sum(t.numel() for t in frozen.values())
        runner.logger.info(
            f'{type(self).__name__}: the checkpoint keeps {len(delta)} of '
            f'{len(full)} tensors ({kept:,} of {total:,} values); the frozen '
            f'backbone is left out (base {info["base_checkpoint"]}, '
            f'sha256 {info["base_sha256"]})')

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Verify (and if needed load) the base of a delta checkpoint and
        complete its state dict; other checkpoints pass unchanged."""
        if not is_delta(checkpoint):
            return
        sha256 = FrozenBase.of(runner.model).complete(checkpoint)
        runner.logger.info(
            f'{type(self).__name__}: loading a delta checkpoint on the frozen '
            f'backbone {checkpoint["meta"][DELTA_META_KEY]["base_checkpoint"]}'
            f' (sha256 {sha256}, verified)')
