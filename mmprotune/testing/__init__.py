"""Helpers for tests and demos that need a config, weights or a fresh
process without any download."""
from .checkpoints import write_pretrained_checkpoint
from .commands import (REPO_ROOT, TRANSFER_CONFIG_DIR, load_tool, repo_env,
                       run_tool, tool_command)
from .tiny_config import tiny_config

__all__ = [
    'write_pretrained_checkpoint', 'tiny_config', 'REPO_ROOT',
    'TRANSFER_CONFIG_DIR', 'load_tool', 'repo_env', 'run_tool',
    'tool_command'
]
