"""The machine a measurement ran on, recorded beside the figures of both
studies (the cost report and the transfer benchmark): CPU timings differ by
CPU model; and the code version it ran (:func:`code_version`)."""
import os
import os.path as osp
import platform
import re
import subprocess
from typing import Optional


def cpu_name() -> str:
    """The CPU model from ``/proc/cpuinfo`` (Linux), else what
    ``platform`` knows."""
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            names = re.findall(r'^model name\s*:\s*(.+)$', f.read(), re.M)
    except OSError:
        names = []
    return names[0] if names else platform.processor()


def machine() -> dict:
    """What the timings were measured on: platform, CPU model and count,
    torch's version and threads, the CUDA device if any."""
    import torch
    return dict(platform=platform.platform(), processor=cpu_name(),
                cpus=os.cpu_count(), torch=torch.__version__,
                torch_threads=torch.get_num_threads(),
                cuda=torch.cuda.get_device_name()
                if torch.cuda.is_available() else None)


def code_version() -> Optional[dict]:
    """The commit of the git checkout mmprotune is imported from
    (``commit``) and whether tracked files differ from it (``dirty``);
    None outside a git checkout (e.g. an installed wheel: its version is in
    every record's key)."""
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

    def git(*args: str) -> str:
        return subprocess.run(['git', '-C', root, *args], check=True,
                              capture_output=True, text=True).stdout.strip()

    try:
        # the package's own checkout, not one that holds a site-packages
        if osp.realpath(git('rev-parse', '--show-toplevel')) != \
                osp.realpath(root):
            return None
        commit = git('rev-parse', 'HEAD')
        dirty = bool(git('status', '--porcelain', '--untracked-files=no'))
    except (OSError, subprocess.CalledProcessError):
        return None
    return dict(commit=commit, dirty=dirty)
