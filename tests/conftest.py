"""Settings for the whole suite.

Hypothesis runs deterministically (``derandomize``: the same examples on every run, so a
failure replays and a pass means the same thing everywhere) and without its per-example
deadline: speed is measured by ``bench/``, never by a timed assertion, and a loaded machine
must not turn a slow example into a failure. The fuzzers under ``tests/fuzz`` load their own
profiles on top of this one.

``make test`` runs the suite on two worker processes (pytest-xdist, ``--dist loadgroup``):
the end-to-end tests, which run whole process trees on a market clock, stay together on one
worker, one at a time, as when the suite runs in one process; the unit, integration and fuzz
tests share the other.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("project", deadline=None, derandomize=True, database=None, print_blob=True)
settings.load_profile("project")

E2E = Path(__file__).parent / "e2e"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if E2E in item.path.parents:
            item.add_marker(pytest.mark.xdist_group("e2e"))
