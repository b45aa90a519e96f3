"""The report's reconnects: the counts the bridges of the day's runs kept in their state files."""

from __future__ import annotations

from dataclasses import replace

from common.bridge_state import StateFile, state_path_for
from launch.paths import ModePaths
from launch.report import day_reconnects


def test_the_day_s_reconnects_sum_the_state_files_of_its_runs(tmp_path):
    paths = replace(ModePaths.of("mock"), log_dir=tmp_path)
    runs = [{"stamp": "20251016_093000"}, {"stamp": "20251016_110000"}, {"stamp": "20251016_120000"}]
    assert day_reconnects(paths, runs) is None  # no bridge left a file: unknown, not 0
    for stamp, n in (("20251016_093000", 2), ("20251016_110000", 3)):
        log = paths.log_file("bridge", stamp)
        log.write_text("reconnecting to the market-data stream\n" * 7)  # the log's wording does not count
        StateFile(state_path_for(log)).update({"reconnects": n}, connected=True, wall_ms=1)
    assert day_reconnects(paths, runs) == 5  # the third run's bridge never started: adds none
    assert day_reconnects(paths, []) is None
