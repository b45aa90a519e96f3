"""Fuzz tests: print how many inputs each parser was fed (``FUZZ_PROFILE`` picks the size).

Each fuzz test's inputs travel with its report (``user_properties``), so the summary adds
them up in the process that prints it, with or without worker processes (``make test``
runs the suite on two). With ``FUZZ_COUNTS_FILE`` set, the counts so far are also written
there (JSON) after each test, so a long run stopped early still says how far each parser got.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from tests.fuzz.fuzzing import COUNTS, PROFILE

PROPERTY = "fuzz_inputs"
TOTALS: Counter[str] = Counter()
"""Inputs per parser over the reports seen by this process (the one that prints the summary)."""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):
    before = Counter(COUNTS)
    yield
    fed = Counter(COUNTS)
    fed.subtract(before)
    item.user_properties.append((PROPERTY, {k: v for k, v in fed.items() if v}))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call":
        return
    for name, fed in report.user_properties:
        if name == PROPERTY:
            TOTALS.update(fed)
    path = os.environ.get("FUZZ_COUNTS_FILE")
    if path and "/fuzz/" in report.nodeid:
        done = {"profile": PROFILE, "inputs": dict(TOTALS), "last": report.nodeid, "outcome": report.outcome}
        Path(path).write_text(json.dumps(done, indent=1))


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not TOTALS:
        return
    failed = {r.nodeid for r in terminalreporter.stats.get("failed", [])}
    tr = terminalreporter
    tr.section(f"fuzz inputs per parser (profile {PROFILE})")
    width = max(len(k) for k in TOTALS)
    for parser in sorted(TOTALS):
        tr.write_line(f"{parser:<{width}}  {TOTALS[parser]:>9,} inputs")
    tr.write_line(f"failed fuzz tests (crashes): {len([f for f in failed if '/fuzz/' in f])}")
