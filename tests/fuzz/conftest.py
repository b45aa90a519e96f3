"""Fuzz tests: print how many inputs each parser was fed (``FUZZ_PROFILE`` picks the size).

With ``FUZZ_COUNTS_FILE`` set, the counts so far are also written there (JSON) after each
test, so a long run stopped early still says how far each parser got.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.fuzz.fuzzing import COUNTS, PROFILE


def pytest_runtest_logreport(report) -> None:
    path = os.environ.get("FUZZ_COUNTS_FILE")
    if path and report.when == "call" and "/fuzz/" in report.nodeid:
        done = {"profile": PROFILE, "inputs": dict(COUNTS), "last": report.nodeid, "outcome": report.outcome}
        Path(path).write_text(json.dumps(done, indent=1))


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not COUNTS:
        return
    failed = {r.nodeid for r in terminalreporter.stats.get("failed", [])}
    tr = terminalreporter
    tr.section(f"fuzz inputs per parser (profile {PROFILE})")
    width = max(len(k) for k in COUNTS)
    for parser in sorted(COUNTS):
        tr.write_line(f"{parser:<{width}}  {COUNTS[parser]:>9,} inputs")
    tr.write_line(f"failed fuzz tests (crashes): {len([f for f in failed if '/fuzz/' in f])}")
