"""The two studies of ``tools/``: the cost report of ``tools/report.py``
(:mod:`.cost`) and the transfer benchmark of ``tools/benchmark_transfer.py``
(:mod:`.transfer`), with the method vocabulary (:mod:`.methods`) and the
plotting helpers (:mod:`.plotting`) they share."""
