"""The method vocabulary the cost report, the transfer benchmark and the
demo share: the methods derived from one Pro-tuning config
(:data:`REPORT_METHODS`, :func:`method_variants`), the registered PEFT
baselines (:func:`peft_methods`) and the ``--methods`` argument
(:func:`parse_methods`)."""
import copy
from typing import Dict, List

from mmengine.config import Config

from mmprotune.models.peft import HookedMethod
from mmprotune.registry import MODELS as PROMPT_MODELS

#: ``protune@<preset>``: Pro-tuning with ``efficient_backward=<preset>``
#: (``protune`` itself: the config's, ``'memory'``), ``protune@autograd``
#: with plain autograd. (``protune-<variant>`` is a prompt-block design of
#: the transfer benchmark, another axis.)
BACKWARD_PRESETS = {
    'protune@autograd': False,
    'protune@balanced': 'balanced',
    'protune@speed': 'speed'
}
#: Methods :func:`method_variants` derives from one Pro-tuning config,
#: besides the PEFT baselines (:func:`peft_methods`).
REPORT_METHODS = ('full', 'head-only', 'protune@autograd', 'protune',
                  'protune@balanced', 'protune@speed')


def parse_methods(text: str) -> List[str]:
    """``'full,head-only, lora'`` -> ``['full', 'head-only', 'lora']``: the
    comma-separated names of a ``--methods`` argument, empty ones dropped;
    whether a name is allowed is for the command to check."""
    names = (name.strip() for name in text.split(','))
    return [name for name in names if name]


def peft_methods() -> Dict[str, str]:
    """Method names (``method_name``) of the registered PEFT baselines (the
    hooked methods) -> their ``prompt_cfg.type``."""
    return {
        cls.method_name: name
        for name, cls in PROMPT_MODELS.module_dict.items()
        if issubclass(cls, HookedMethod)
    }


def method_variants(cfg: Config, methods: List[str]) -> Dict[str, Config]:
    """Configs that differ from a Pro-tuning ``cfg`` only in the backbone.

    - ``full``: the wrapped upstream type, trained whole (its own
      ``frozen_stages``, e.g. 1 for ResNet as upstream);
    - ``head-only``: the frozen backbone without prompts;
    - ``protune``: the config as is (frozen-aware backward);
    - ``protune@autograd``, ``protune@balanced``, ``protune@speed``:
      Pro-tuning with that value of ``efficient_backward``
      (:data:`BACKWARD_PRESETS`);
    - a PEFT baseline, e.g. ``lora``: its default arguments on the stages
      the config tunes.
    """
    backbone = cfg.model.backbone
    if not backbone.type.startswith('ProTune'):
        raise ValueError(f'--methods needs a Pro-tuning config (a ProTune* '
                         f'backbone), got backbone type {backbone.type!r}')
    peft = peft_methods()
    unknown = sorted(set(methods) - set(REPORT_METHODS) - set(peft))
    if unknown:
        raise ValueError(f'unknown method(s) {unknown}; allowed: '
                         f'{list(REPORT_METHODS) + sorted(peft)}')
    variants = {}
    for method in methods:
        variant = copy.deepcopy(cfg)
        vb = variant.model.backbone
        if method == 'full':
            vb.type = vb.type[len('ProTune'):]
            vb.pop('prompt_cfg', None)
            vb.pop('efficient_backward', None)
        elif method == 'head-only':
            # assigned, not ``setdefault(...)[...] = ``: a ConfigDict's
            # ``setdefault`` stores a converted copy of a missing default
            vb.prompt_cfg = dict(vb.get('prompt_cfg') or {}, stages=[])
        elif method in BACKWARD_PRESETS:
            vb.efficient_backward = BACKWARD_PRESETS[method]
        elif method in peft:
            stages = (vb.get('prompt_cfg') or {}).get('stages')
            vb.prompt_cfg = dict(type=peft[method])
            if stages is not None:
                vb.prompt_cfg['stages'] = stages
        variants[method] = variant
    return variants
