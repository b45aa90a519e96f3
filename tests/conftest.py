"""Settings for the whole suite.

Hypothesis runs deterministically (``derandomize``: the same examples on every run, so a
failure replays and a pass means the same thing everywhere) and without its per-example
deadline: speed is measured by ``bench/``, never by a timed assertion, and a loaded machine
must not turn a slow example into a failure. The fuzzers under ``tests/fuzz`` load their own
profiles on top of this one.
"""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("project", deadline=None, derandomize=True, database=None, print_blob=True)
settings.load_profile("project")
