"""The record of the last finished optimization: written whole, read back, never trusted blindly."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

from common.calendar import from_ms, ny_datetime, to_ms
from optimize.last_run import LastRun, covers, last_run_path, read_last_run, write_last_run

RUN = LastRun(data_end=date(2025, 10, 15), partial_end=None, trials=100, verdict="kept",
              finished_at=datetime(2025, 10, 16, 13, 12, 3, tzinfo=UTC))  # fmt: skip


def test_a_record_reads_back_as_written_and_other_strategies_are_kept(tmp_path):
    midday = LastRun(date(2025, 10, 16), from_ms(to_ms(ny_datetime(date(2025, 10, 16), "12:44"))), 20,
                     "promoted", datetime(2025, 10, 16, 16, 50, tzinfo=UTC))  # fmt: skip
    write_last_run(tmp_path, "rotation", RUN)
    write_last_run(tmp_path, "psm", midday)
    assert last_run_path(tmp_path) == tmp_path / "optuna" / "last_run.json"
    assert read_last_run(tmp_path, "rotation") == RUN and read_last_run(tmp_path, "psm") == midday
    assert "data to 2025-10-16 up to 12:44, 20 trials, parameters promoted" in midday.describe()


def test_no_record_or_an_unreadable_one_is_none(tmp_path, caplog):
    assert read_last_run(tmp_path, "rotation") is None
    path = last_run_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with caplog.at_level(logging.WARNING):
        assert read_last_run(tmp_path, "rotation") is None
    assert "last_run.json is unreadable" in caplog.text
    path.write_text('{"rotation": {"data_end": "yesterday"}}')
    assert read_last_run(tmp_path, "rotation") is None
    write_last_run(tmp_path, "psm", RUN)  # a broken file is replaced, not merged into
    assert read_last_run(tmp_path, "psm") == RUN


def test_a_record_covers_the_sessions_it_optimized_on():
    assert covers(RUN, date(2025, 10, 15)) and covers(RUN, date(2025, 10, 14))
    assert not covers(RUN, date(2025, 10, 16)) and not covers(None, date(2025, 10, 15))
