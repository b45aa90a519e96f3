"""New York time of bar starts: DST-aware, per-bar and batch forms agree."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest

from common.calendar import NY, nyse
from engine_core.timeinfo import minute_fields, minute_info


def _ms(y, mo, d, h, mi, tz=UTC) -> int:
    return int(datetime(y, mo, d, h, mi, tzinfo=tz).timestamp() * 1000)


def test_the_open_is_0930_on_both_sides_of_a_dst_change():
    winter = nyse().session(date(2025, 3, 7)).open_ms  # EST: 14:30 UTC
    summer = nyse().session(date(2025, 3, 10)).open_ms  # EDT: 13:30 UTC
    assert winter == _ms(2025, 3, 7, 14, 30) and summer == _ms(2025, 3, 10, 13, 30)
    info = minute_info([winter, summer])
    assert info.mod.tolist() == [570, 570]
    assert info.dow.tolist() == [4, 0]  # Friday, Monday
    assert (info.day == [date(2025, 3, 7).toordinal() - date(1970, 1, 1).toordinal(),
                         date(2025, 3, 10).toordinal() - date(1970, 1, 1).toordinal()]).all()


def test_matches_zoneinfo_minute_by_minute_across_years_and_transitions():
    rng = np.random.default_rng(5)
    t = np.sort(rng.integers(_ms(2018, 1, 1, 0, 0) // 60_000, _ms(2030, 1, 1, 0, 0) // 60_000,
                             4000)) * 60_000
    # and every minute around the 2025 spring-forward and fall-back instants
    t = np.r_[t, np.arange(_ms(2025, 3, 9, 5, 0), _ms(2025, 3, 9, 9, 0), 60_000),
              np.arange(_ms(2025, 11, 2, 4, 0), _ms(2025, 11, 2, 8, 0), 60_000)]
    info = minute_info(t)
    for k, ms in enumerate(t.tolist()):
        d = datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(NY)
        assert info.mod[k] == d.hour * 60 + d.minute
        assert info.dow[k] == d.weekday()
        assert info.day[k] == d.date().toordinal() - date(1970, 1, 1).toordinal()
        assert minute_fields(ms) == (info.mod[k], info.dow[k], info.day[k])


def test_rejects_instants_that_are_not_bar_starts():
    with pytest.raises(ValueError, match="not the start of a minute"):
        minute_info([60_000, 90_000])
    with pytest.raises(ValueError, match="not the start of a minute"):
        minute_fields(1)
    with pytest.raises(ValueError, match="integer"):
        minute_info(np.array([1.5]))
