"""common.calendar: NYSE sessions, DST, half days, holidays and Alpaca-style clock answers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from common.calendar import (
    MINUTE_MS,
    NY,
    floor_minute,
    from_ms,
    iso_ny,
    ny_date,
    ny_datetime,
    nyse,
    parse_rfc3339,
    rfc3339_utc,
    rfc3339_utc_us,
    to_ms,
)


@pytest.fixture(scope="module")
def cal():
    return nyse()


def ny_ms(d: date, hhmm: str) -> int:
    return to_ms(ny_datetime(d, hhmm))


@pytest.mark.parametrize(
    ("day", "open_utc_hour"),
    [
        (date(2025, 3, 7), 14),  # last Friday of EST
        (date(2025, 3, 10), 13),  # first Monday of EDT (clocks moved on Sunday 9 March)
        (date(2025, 10, 31), 13),  # last Friday of EDT
        (date(2025, 11, 3), 14),  # first Monday of EST (clocks moved back on Sunday 2 November)
    ],
)
def test_open_is_0930_new_york_on_both_sides_of_the_dst_switch(cal, day, open_utc_hour):
    s = cal.session(day)
    assert s.open.astimezone(UTC).hour == open_utc_hour
    assert s.open_ny().strftime("%H:%M") == "09:30"
    assert s.close_ny().strftime("%H:%M") == "16:00"
    assert s.n_minutes == 390 and not s.is_half_day


@pytest.mark.parametrize(
    "day", [date(2024, 11, 29), date(2024, 12, 24), date(2025, 7, 3), date(2025, 11, 28)]
)
def test_half_days_close_at_1300_with_210_minutes(cal, day):
    s = cal.session(day)
    assert s.is_half_day and s.n_minutes == 210
    assert s.close_ny().strftime("%H:%M") == "13:00"
    grid = s.minutes()
    assert len(grid) == 210
    assert grid[0] == s.open_ms and grid[-1] == ny_ms(day, "12:59")
    assert s.eod_ms() == ny_ms(day, "12:58")


def test_full_day_grid_and_eod(cal):
    s = cal.session(date(2025, 10, 16))
    grid = s.minutes()
    assert len(grid) == 390
    assert grid[0] == ny_ms(s.date, "09:30") and grid[-1] == ny_ms(s.date, "15:59")
    assert s.eod_ms() == ny_ms(s.date, "15:58")
    assert s.minute_index(ny_ms(s.date, "10:00")) == 30
    assert s.contains_minute(grid[-1]) and not s.contains_minute(s.close_ms)
    assert not s.contains_minute(grid[0] + 1)


@pytest.mark.parametrize(
    "day",
    [
        date(2025, 1, 1),
        date(2025, 1, 20),  # MLK day
        date(2025, 4, 18),  # Good Friday
        date(2025, 7, 4),
        date(2025, 11, 27),  # Thanksgiving
        date(2025, 12, 25),
        date(2025, 10, 18),  # a Saturday
    ],
)
def test_holidays_and_weekends_are_not_sessions(cal, day):
    assert not cal.is_session(day)
    with pytest.raises(ValueError, match=str(day)):
        cal.session(day)


def test_out_of_range_date_is_a_clear_error(cal):
    with pytest.raises(ValueError, match="outside the calendar"):
        cal.session(date(1990, 1, 2))


def test_sessions_before_skips_weekends_and_holidays(cal):
    got = [s.date for s in cal.sessions_before(date(2025, 12, 29), 4)]
    # 25 Dec is a holiday, 27-28 Dec a weekend
    assert got == [date(2025, 12, 22), date(2025, 12, 23), date(2025, 12, 24), date(2025, 12, 26)]
    assert [s.date for s in cal.sessions_before(date(2025, 12, 26), 1)] == [date(2025, 12, 24)]
    assert cal.previous_session(date(2025, 12, 29)).date == date(2025, 12, 26)
    assert cal.next_session(date(2025, 12, 24)).date == date(2025, 12, 26)


def test_sessions_before_a_session_excludes_it_and_twenty_are_available(cal):
    got = cal.sessions_before(date(2025, 10, 16), 20)
    assert len(got) == 20 and got[-1].date == date(2025, 10, 15)
    assert got == sorted(got, key=lambda s: s.date)
    with pytest.raises(ValueError, match="fewer than"):
        cal.sessions_before(cal.first, 1)


def test_sessions_between_is_inclusive(cal):
    got = [s.date for s in cal.sessions_between(date(2025, 11, 26), date(2025, 12, 1))]
    assert got == [date(2025, 11, 26), date(2025, 11, 28), date(2025, 12, 1)]


def test_session_at_and_session_of_minute(cal):
    d = date(2025, 11, 28)
    assert cal.session_at(ny_ms(d, "09:29")) is None
    assert cal.session_at(ny_ms(d, "09:30")).date == d
    assert cal.session_at(ny_ms(d, "12:59") + 59_999).date == d
    assert cal.session_at(ny_ms(d, "13:00")) is None
    assert cal.session_at(ny_ms(date(2025, 11, 29), "12:00")) is None
    assert cal.session_of_minute(ny_ms(d, "12:59")).date == d
    assert cal.session_of_minute(ny_ms(d, "12:59") + 1) is None


def test_next_open_close_before_open_during_and_at_close(cal):
    d = date(2025, 10, 16)
    is_open, nopen, nclose = cal.next_open_close(ny_ms(d, "08:00"))
    assert not is_open
    assert nopen == ny_datetime(d, "09:30") and nclose == ny_datetime(d, "16:00")

    is_open, nopen, nclose = cal.next_open_close(ny_ms(d, "09:30"))
    assert is_open
    assert nopen == ny_datetime(date(2025, 10, 17), "09:30") and nclose == ny_datetime(d, "16:00")

    is_open, nopen, nclose = cal.next_open_close(ny_ms(d, "16:00"))
    assert not is_open
    assert nopen == ny_datetime(date(2025, 10, 17), "09:30")
    assert nclose == ny_datetime(date(2025, 10, 17), "16:00")


def test_next_open_close_over_a_weekend_and_a_holiday(cal):
    # Friday 3 July 2025 is a half day, 4 July a holiday, then a weekend
    is_open, nopen, nclose = cal.next_open_close(ny_ms(date(2025, 7, 3), "13:00"))
    assert not is_open
    assert nopen == ny_datetime(date(2025, 7, 7), "09:30")
    assert nclose == ny_datetime(date(2025, 7, 7), "16:00")
    is_open, _, nclose = cal.next_open_close(ny_ms(date(2025, 7, 3), "12:59"))
    assert is_open and nclose == ny_datetime(date(2025, 7, 3), "13:00")
    is_open, nopen, _ = cal.next_open_close(ny_ms(date(2025, 7, 5), "11:00"))
    assert not is_open and nopen == ny_datetime(date(2025, 7, 7), "09:30")


def test_time_conversions():
    t = ny_ms(date(2025, 10, 16), "09:30")
    assert t == 1_760_621_400_000
    assert iso_ny(t) == "2025-10-16T09:30:00-04:00"
    assert iso_ny(ny_ms(date(2025, 12, 1), "09:30")) == "2025-12-01T09:30:00-05:00"
    assert rfc3339_utc(t) == "2025-10-16T13:30:00Z"
    assert rfc3339_utc(t + 1_999) == "2025-10-16T13:30:01Z"  # whole seconds
    assert rfc3339_utc_us(t + 1_999) == "2025-10-16T13:30:01.999000Z"
    assert from_ms(t).tzinfo == NY and from_ms(t, UTC).hour == 13
    assert ny_date(ny_ms(date(2025, 10, 16), "23:59")) == date(2025, 10, 16)
    assert t % MINUTE_MS == 0
    assert floor_minute(t) == floor_minute(t + 59_999) == t and floor_minute(t - 1) == t - MINUTE_MS
    with pytest.raises(ValueError, match="naive"):
        to_ms(datetime(2025, 10, 16, 9, 30))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-10-16T13:30:00Z", datetime(2025, 10, 16, 13, 30, tzinfo=UTC)),
        ("2025-10-16T09:30:00-04:00", datetime(2025, 10, 16, 13, 30, tzinfo=UTC)),
        ("2025-10-16T13:30:00.123456789Z", datetime(2025, 10, 16, 13, 30, 0, 123456, tzinfo=UTC)),
        ("2025-10-16T13:30:00", datetime(2025, 10, 16, 13, 30, tzinfo=UTC)),
        ("2025-10-16", datetime(2025, 10, 16, 4, 0, tzinfo=UTC)),
    ],
)
def test_parse_rfc3339(text, expected):
    got = parse_rfc3339(text)
    assert got == expected and got.tzinfo is not None


@pytest.mark.parametrize("text", ["", "yesterday", "2025-13-01T00:00:00Z", "Z"])
def test_parse_rfc3339_rejects_garbage(text):
    with pytest.raises(ValueError):
        parse_rfc3339(text)


@pytest.mark.parametrize("text", ["2025-10-16T13:30:00", "2025-10-16"])
def test_parse_rfc3339_can_require_an_offset(text):
    with pytest.raises(ValueError, match="no offset"):
        parse_rfc3339(text, offset_required=True)
    assert parse_rfc3339("2025-10-16T09:30:00-04:00", offset_required=True).utcoffset() is not None


def test_the_calendar_is_built_once():
    assert nyse() is nyse()


def test_every_session_of_2025_is_on_a_weekday_and_open_at_0930(cal):
    sessions = cal.sessions_between(date(2025, 1, 1), date(2025, 12, 31))
    assert len(sessions) == 250
    for s in sessions:
        assert s.date.weekday() < 5
        assert s.open_ny().strftime("%H:%M") == "09:30"
        assert s.open_ny().date() == s.date
        assert s.close - s.open in (timedelta(hours=6, minutes=30), timedelta(hours=3, minutes=30))
