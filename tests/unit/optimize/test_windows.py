from __future__ import annotations

import pytest

from common.calendar import nyse
from optimize.windows import DEFAULT_WINDOWS, WindowSpec

from .conftest import LAST, NOW_MS


def test_windows_are_the_most_recent_closed_sessions_in_order():
    w = WindowSpec(3, 4, 2).latest(nyse(), NOW_MS)
    assert [len(w.warmup), len(w.scored), len(w.held_out)] == [3, 4, 2]
    dates = [s.date for s in w.sessions]
    assert dates == sorted(dates) and dates[-1] == LAST
    assert dates == [s.date for s in nyse().sessions_before(LAST, 8)] + [LAST]
    assert list(w.scored_index) == [3, 4, 5, 6] and list(w.held_out_index) == [7, 8]
    assert "held-out 2 (2025-10-30..2025-10-31)" in w.describe()


def test_the_default_counts_are_what_the_launcher_downloads():
    from launch.sequence import DOWNLOAD_SESSIONS, WARMUP_SESSIONS

    assert max(WARMUP_SESSIONS, DEFAULT_WINDOWS.total) == DOWNLOAD_SESSIONS


@pytest.mark.parametrize("kw", [{"scored": 0}, {"held_out": 0}, {"warmup": -1}, {"scored": 1.5}])
def test_bad_counts_are_refused(kw):
    with pytest.raises(ValueError, match="sessions must be a whole number"):
        WindowSpec(**kw)


def test_too_few_sessions_is_an_error():
    with pytest.raises(ValueError, match="2 sessions for 1 warm-up"):
        WindowSpec(1, 1, 1).split(nyse().sessions_before(LAST, 2))
