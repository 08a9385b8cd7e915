"""Helpers for tests and demos that need a config, weights or a fresh
process without any download. The tests' shared cases are submodules,
imported by name: :mod:`.peft_cases` (tuning modules in tiny wrappers),
:mod:`.runner_cases` (tiny Runner configs), :mod:`.backbone_pairs`,
:mod:`.distributed` and :mod:`.camvid` (a tiny CamVid-layout folder);
:func:`make_raccoon` writes a tiny folder in the raccoon detection set's
layout (:mod:`.raccoon`)."""
from .checkpoints import write_pretrained_checkpoint
from .commands import (REPO_ROOT, TRANSFER_CONFIG_DIR, load_tool, repo_env,
                       run_tool, tool_command)
from .raccoon import make_raccoon
from .tiny_config import tiny_config

__all__ = [
    'write_pretrained_checkpoint', 'tiny_config', 'REPO_ROOT',
    'TRANSFER_CONFIG_DIR', 'load_tool', 'repo_env', 'run_tool', 'tool_command',
    'make_raccoon'
]
