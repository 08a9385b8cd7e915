"""A method's measuring process (``MethodWorker``): its answers, and its
death (e.g. killed for lack of memory) as an error, not a wait forever."""
import multiprocessing
import os
import signal

import pytest
from mmengine.config import Config

from mmprotune.analysis.cost.bench import MethodWorker, make_batch


@pytest.mark.slow
def test_a_dead_worker_is_an_error_naming_its_method(tiny_config):
    cfg = Config.fromfile(str(tiny_config))
    worker = MethodWorker('protune', cfg, make_batch(cfg, 1, 64),
                          multiprocessing.get_context('spawn'))
    try:
        assert worker('seconds', 'inference') > 0
        pid = worker.submit(os.getpid)
        assert pid != os.getpid()
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(RuntimeError, match="measuring 'protune' died"):
            worker('seconds', 'inference')
    finally:
        worker.close()
