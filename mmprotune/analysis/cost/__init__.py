"""The cost report of ``tools/report.py``: the methods' costs measured side
by side (:mod:`.bench`), then tabulated and drawn (:mod:`.report`)."""
