from __future__ import annotations

import pytest

from common.calendar import nyse
from mockmarket.clock_routes import calendar_day_json, clock_json


def test_clock_follows_the_simulated_clock(server):
    c = server.get("/v2/clock").json()
    assert c == {
        "timestamp": "2025-10-16T10:00:00.000-04:00",
        "is_open": True,
        "next_open": "2025-10-17T09:30:00-04:00",
        "next_close": "2025-10-16T16:00:00-04:00",
    }
    server.step(6 * 3600)  # 16:00: closed
    c = server.get("/v2/clock").json()
    assert c["timestamp"] == "2025-10-16T16:00:00.000-04:00"
    assert c["is_open"] is False
    assert c["next_open"] == "2025-10-17T09:30:00-04:00"
    assert c["next_close"] == "2025-10-17T16:00:00-04:00"


@pytest.mark.parametrize(
    ("hhmm", "is_open"),
    [("04:00", False), ("09:29", False), ("09:30", True), ("15:59", True), ("20:00", False)],
)
def test_clock_before_during_and_after_the_session(facts, hhmm, is_open):
    c = clock_json(nyse(), facts.ny_ms(facts.replay, hhmm))
    assert c["is_open"] is is_open
    assert c["timestamp"].endswith("-04:00")


def test_clock_over_a_weekend():
    from datetime import date

    from common.calendar import ny_datetime, to_ms

    c = clock_json(nyse(), to_ms(ny_datetime(date(2025, 10, 18), "12:00")))
    assert c["is_open"] is False and c["next_open"] == "2025-10-20T09:30:00-04:00"


def test_calendar_range_is_inclusive_with_half_days(server):
    days = server.get("/v2/calendar", start="2024-11-27", end="2024-12-02").json()
    assert [d["date"] for d in days] == ["2024-11-27", "2024-11-29", "2024-12-02"]
    assert days[1]["open"] == "09:30" and days[1]["close"] == "13:00"
    assert days[0] == {
        "date": "2024-11-27",
        "open": "09:30",
        "close": "16:00",
        "session_open": "0400",
        "session_close": "2000",
        "settlement_date": "2024-11-29",
    }


def test_calendar_accepts_rfc3339_and_defaults_to_the_whole_calendar(server):
    days = server.get(
        "/v2/calendar", start="2025-10-16T00:00:00Z", end="2025-10-16T23:00:00Z"
    ).json()
    assert [d["date"] for d in days] == ["2025-10-16"]
    all_days = server.get("/v2/calendar").json()
    cal = nyse()
    assert (
        all_days[0]["date"] == cal.first.isoformat()
        and all_days[-1]["date"] == cal.last.isoformat()
    )


@pytest.mark.parametrize("bad", ["2025-02-30", "soon", "16/10/2025"])
def test_calendar_bad_dates_are_named(server, bad):
    r = server.get("/v2/calendar", start=bad)
    assert r.status_code == 400 and "invalid start" in r.json()["message"]


def test_calendar_day_json_after_the_calendar_end_settles_same_day():
    cal = nyse()
    last = cal.session(cal.last)
    assert calendar_day_json(cal, last)["settlement_date"] == cal.last.isoformat()
