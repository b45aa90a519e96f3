"""Fuzz tests: print how many inputs each parser was fed (``FUZZ_PROFILE`` picks the size)."""

from __future__ import annotations

from tests.fuzz.fuzzing import COUNTS, PROFILE


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
