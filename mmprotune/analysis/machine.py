"""The machine a measurement ran on, recorded beside the figures of both
studies (the cost report and the transfer benchmark): CPU timings differ by
CPU model."""
import os
import platform
import re


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
