"""'Today' comes from the broker's clock: closed days, sessions over, the last closed minute."""

from __future__ import annotations

from datetime import date

from common.calendar import ny_datetime, nyse, to_ms
from common.rest_models import BrokerClock
from engine.startup import session_today


def clock_at(day: date, hhmm: str, sec: int = 0) -> BrokerClock:
    ts = ny_datetime(day, hhmm).replace(second=sec)
    is_open, nxt_open, nxt_close = nyse().next_open_close(to_ms(ts))
    return BrokerClock(ts, is_open, nxt_open, nxt_close)


def test_a_weekend_is_a_closed_day():
    today = session_today(clock_at(date(2025, 10, 18), "10:00"), nyse())
    assert today.session is None and today.last_closed_minute() is None
    assert "closed today (2025-10-18" in today.describe() and "next open 2025-10-20" in today.describe()


def test_a_holiday_is_a_closed_day():
    assert session_today(clock_at(date(2025, 11, 27), "11:00"), nyse()).session is None


def test_minutes_before_open_during_and_after_the_session():
    d = date(2025, 10, 16)
    before = session_today(clock_at(d, "09:00"), nyse())
    assert before.session is not None and not before.over and before.last_closed_minute() is None
    assert session_today(clock_at(d, "09:30", 30), nyse()).last_closed_minute() is None
    during = session_today(clock_at(d, "14:45", 20), nyse())
    assert during.last_closed_minute() == to_ms(ny_datetime(d, "14:44"))
    after = session_today(clock_at(d, "16:00", 5), nyse())
    assert after.over and after.last_closed_minute() == to_ms(ny_datetime(d, "15:59"))
    assert "closed at 2025-10-16T16:00:00-04:00" in after.describe()


def test_a_half_day_closes_at_one():
    d = date(2025, 11, 28)
    today = session_today(clock_at(d, "12:30"), nyse())
    assert "(half day)" in today.describe()
    assert session_today(clock_at(d, "13:00", 1), nyse()).over
