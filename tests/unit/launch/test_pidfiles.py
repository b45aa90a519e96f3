"""launch.pidfiles: a record counts only while its pid runs its recorded command line."""

from __future__ import annotations

import sys

from launch.pidfiles import live_record, read_record, record_path, stop_recorded, write_record
from tests.support.processes import started

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_a_record_round_trips_and_a_dead_pid_is_forgotten(tmp_path):
    p = started(SLEEPER)
    try:
        rec = write_record(tmp_path, "engine", p.pid, SLEEPER)
        assert read_record(tmp_path, "engine") == rec
        assert live_record(tmp_path, "engine") == rec
    finally:
        p.kill()
        p.wait(10)
    assert live_record(tmp_path, "engine") is None
    assert record_path(tmp_path, "engine").exists()  # looking never removes anything
    assert stop_recorded(tmp_path) == [] and not record_path(tmp_path, "engine").exists()


def test_a_pid_that_runs_another_command_is_never_signalled(tmp_path):
    p = started(SLEEPER)
    try:
        write_record(tmp_path, "engine", p.pid, [sys.executable, "-m", "engine", "--strategy", "psm"])
        assert stop_recorded(tmp_path) == []
        assert p.poll() is None
        assert not record_path(tmp_path, "engine").exists()
    finally:
        p.kill()
        p.wait(10)


def test_leftovers_are_stopped_together(tmp_path):
    procs = [started(SLEEPER), started(SLEEPER)]
    try:
        write_record(tmp_path, "engine", procs[0].pid, SLEEPER)
        write_record(tmp_path, "bridge", procs[1].pid, SLEEPER)
        stopped = stop_recorded(tmp_path, timeout=5)
        assert sorted(r.name for r in stopped) == ["bridge", "engine"]
        assert [p.wait(5) for p in procs] == [-15, -15]
        assert not record_path(tmp_path, "engine").exists() and not record_path(tmp_path, "bridge").exists()
    finally:
        for p in procs:
            p.kill()
            p.wait(10)


def test_an_unreadable_record_is_ignored(tmp_path):
    record_path(tmp_path, "bridge").write_text("{not json")
    assert read_record(tmp_path, "bridge") is None
    assert stop_recorded(tmp_path) == []
