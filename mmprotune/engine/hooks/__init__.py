from .delta_checkpoint_hook import DeltaCheckpointHook
from .unused_parameter_check_hook import UnusedParameterCheckHook

__all__ = ['DeltaCheckpointHook', 'UnusedParameterCheckHook']
