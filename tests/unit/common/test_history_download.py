"""common.history_download: sessions counted on the calendar, only missing ranges requested,
files merged (never truncated), today's bars from 09:30 to the last closed minute."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from common.bars import Bar
from common.calendar import MINUTE_MS, from_ms, ny_datetime, nyse, to_ms
from common.csvfiles import (
    history_path,
    read_history,
    read_today,
    today_path,
    write_history,
    write_today,
)
from common.history_download import (
    EQUITIES,
    TODAYS_BARS,
    HistoryFileError,
    OnDisk,
    history_sessions,
    last_closed_minute,
    plan_download,
    run_download,
    scan,
)

CAL = nyse()
DAY = date(2025, 10, 16)  # a Thursday


def at(d: date, hhmm: str, sec: int = 0) -> int:
    return to_ms(ny_datetime(d, hhmm)) + sec * 1000


class FakeBars:
    """get_bars over a market where every symbol trades every minute, except ``gaps``
    (symbol → dates with no bar at all); records each call."""

    def __init__(self, gaps: dict[str, set[date]] | None = None) -> None:
        self.gaps = gaps or {}
        self.calls: list[tuple[tuple[str, ...], int, int]] = []

    def get_bars(self, symbols, start: datetime, end: datetime) -> dict[str, list[Bar]]:
        lo, hi = to_ms(start), to_ms(end)
        self.calls.append((tuple(symbols), lo, hi))
        out: dict[str, list[Bar]] = {}
        for sym in symbols:
            bars = []
            for s in CAL.sessions_between(from_ms(lo).date(), from_ms(hi).date()):
                if s.date in self.gaps.get(sym, set()):
                    continue
                bars += [Bar(sym, t, 10.0, 10.5, 9.5, 10.0, 100.0) for t in s.minutes() if lo <= t <= hi]
            out[sym] = bars
        return out


def empty(symbols) -> OnDisk:
    return OnDisk({s: frozenset() for s in symbols}, {s: None for s in symbols})


# -- which sessions


def test_history_is_counted_in_sessions_not_calendar_days():
    before, current = history_sessions(CAL, at(date(2025, 12, 1), "08:00"), 30)
    assert current is not None and current.date == date(2025, 12, 1)
    assert len(before) == 30 and all(CAL.is_session(s.date) for s in before)
    assert before[-1].date == date(2025, 11, 28) and date(2025, 11, 27) not in {s.date for s in before}
    # thirty calendar days back would hold only 19 sessions around Thanksgiving
    assert len(CAL.sessions_between(date(2025, 11, 1), date(2025, 11, 30))) == 19


def test_after_the_close_and_on_a_closed_day_the_history_ends_with_the_last_session():
    hist, current = history_sessions(CAL, at(DAY, "16:00"), 20)
    assert current is None and hist[-1].date == DAY and len(hist) == 20
    hist, current = history_sessions(CAL, at(date(2025, 10, 18), "12:00"), 20)  # a Saturday
    assert current is None and hist[-1].date == date(2025, 10, 17)


def test_the_last_closed_minute_follows_the_broker_clock():
    s = CAL.session(DAY)
    assert last_closed_minute(s, at(DAY, "09:30", 59)) is None
    assert last_closed_minute(s, at(DAY, "09:31")) == at(DAY, "09:30")
    assert last_closed_minute(s, at(DAY, "11:03")) == at(DAY, "11:02")
    assert last_closed_minute(s, at(DAY, "17:00")) == at(DAY, "15:59")


# -- the plan


def test_a_fresh_download_asks_for_every_session_in_runs_and_today_so_far():
    syms = ("AAA", "BBB")
    plan = plan_download(syms, empty(syms), calendar=CAL, now_ms=at(DAY, "11:03", 20), sessions=12,
                         per_request=5)  # fmt: skip
    hist = [r for r in plan.requests if r.kind == "history"]
    assert [len(r.sessions) for r in hist] == [5, 5, 2]
    assert all(r.symbols == syms for r in hist)
    assert hist[0].start_ms == plan.history[0].open_ms
    assert hist[-1].end_ms == plan.history[-1].close_ms - MINUTE_MS
    (today,) = [r for r in plan.requests if r.kind == "today"]
    assert (today.start_ms, today.end_ms) == (at(DAY, "09:30"), at(DAY, "11:02"))
    assert plan.steps == len(plan.requests) + 1


def test_only_the_missing_sessions_of_the_symbols_that_lack_them_are_requested():
    syms = ("AAA", "BBB")
    wanted, _ = history_sessions(CAL, at(DAY, "08:00"), 10)
    days = [s.date for s in wanted]
    lacking = {days[2], days[3], days[7]}
    disk = OnDisk({"AAA": frozenset(days), "BBB": frozenset(set(days) - lacking)}, {"AAA": None, "BBB": None})
    plan = plan_download(syms, disk, calendar=CAL, now_ms=at(DAY, "08:00"), sessions=10)
    assert [(r.symbols, r.sessions) for r in plan.requests] == [
        (("BBB",), (days[2], days[3])),
        (("BBB",), (days[7],)),
    ]


def test_today_continues_after_the_earliest_last_bar_and_nothing_when_up_to_date():
    syms = ("AAA", "BBB")
    wanted, _ = history_sessions(CAL, at(DAY, "11:03"), 5)
    full = frozenset(s.date for s in wanted)
    disk = OnDisk({s: full for s in syms}, {"AAA": at(DAY, "10:15"), "BBB": at(DAY, "10:40")})
    plan = plan_download(syms, disk, calendar=CAL, now_ms=at(DAY, "11:03", 5), sessions=5)
    assert [(r.kind, r.start_ms, r.end_ms) for r in plan.requests] == [("today", at(DAY, "10:16"), at(DAY, "11:02"))]
    disk = OnDisk({s: full for s in syms}, {"AAA": at(DAY, "11:02"), "BBB": at(DAY, "11:02")})
    plan = plan_download(syms, disk, calendar=CAL, now_ms=at(DAY, "11:03", 5), sessions=5)
    assert plan.up_to_date and plan.steps == 0


def test_before_the_first_minute_closes_there_is_nothing_of_today_to_fetch():
    syms = ("AAA",)
    plan = plan_download(syms, empty(syms), calendar=CAL, now_ms=at(DAY, "09:30", 30), sessions=3)
    assert {r.kind for r in plan.requests} == {"history"} and plan.last_closed_ms is None


# -- files


def test_a_download_writes_history_and_todays_bars_and_a_second_one_asks_for_nothing(tmp_path):
    syms = ("AAA", "BBB")
    api = FakeBars()
    now = at(DAY, "11:03", 10)
    disk = scan(tmp_path, syms, calendar=CAL, now_ms=now, sessions=3)
    plan = plan_download(syms, disk, calendar=CAL, now_ms=now, sessions=3)
    steps: list[str] = []
    report = run_download(plan, api, tmp_path, disk, calendar=CAL, on_step=steps.append)
    assert len(steps) == plan.steps and steps[-1] == "merged into 2 history file(s)"
    for sym in syms:
        hist = read_history(history_path(tmp_path / EQUITIES, sym))
        assert len(hist) == 3 * 390 and hist[0].t == plan.history[0].open_ms
        today = read_today(today_path(tmp_path / TODAYS_BARS, sym))
        assert len(today) == 93 and today[0].t == at(DAY, "09:30") and today[-1].t == at(DAY, "11:02")
    assert report.warnings() == []
    again = scan(tmp_path, syms, calendar=CAL, now_ms=now, sessions=3)
    assert plan_download(syms, again, calendar=CAL, now_ms=now, sessions=3).up_to_date


def test_a_download_merges_and_never_truncates(tmp_path):
    path = history_path(tmp_path / EQUITIES, "AAA")
    old_day = CAL.sessions_before(DAY, 40)[0]
    old = [Bar("AAA", t, 5.0, 5.0, 5.0, 5.0, 1.0) for t in list(old_day.minutes())[:10]]
    write_history(path, old)
    now = at(DAY, "08:00")
    disk = scan(tmp_path, ("AAA",), calendar=CAL, now_ms=now, sessions=2)
    plan = plan_download(("AAA",), disk, calendar=CAL, now_ms=now, sessions=2)
    run_download(plan, FakeBars(), tmp_path, disk, calendar=CAL)
    bars = read_history(path)
    assert len(bars) == 10 + 2 * 390
    assert [b.t for b in bars[:10]] == [b.t for b in old]


def test_a_symbol_with_no_bars_on_a_session_is_named_in_a_warning(tmp_path):
    now = at(DAY, "08:00")
    wanted, _ = history_sessions(CAL, now, 4)
    gap = wanted[1].date
    syms = ("AAA", "THIN")
    disk = scan(tmp_path, syms, calendar=CAL, now_ms=now, sessions=4)
    plan = plan_download(syms, disk, calendar=CAL, now_ms=now, sessions=4)
    report = run_download(plan, FakeBars({"THIN": {gap}}), tmp_path, disk, calendar=CAL)
    assert report.missing == {"THIN": [gap]}
    assert report.warnings() == [f"THIN: no bars on 1 session(s): {gap}"]
    # the session is still missing: the next download asks for it again, for THIN only
    again = plan_download(syms, scan(tmp_path, syms, calendar=CAL, now_ms=now, sessions=4), calendar=CAL,
                          now_ms=now, sessions=4)  # fmt: skip
    assert [(r.symbols, r.sessions) for r in again.requests] == [(("THIN",), (gap,))]


def test_no_bar_today_is_named_too(tmp_path):
    now = at(DAY, "10:00", 5)
    syms = ("AAA", "THIN")
    disk = scan(tmp_path, syms, calendar=CAL, now_ms=now, sessions=1)
    plan = plan_download(syms, disk, calendar=CAL, now_ms=now, sessions=1)
    report = run_download(plan, FakeBars({"THIN": {DAY}}), tmp_path, disk, calendar=CAL)
    assert report.today_empty == ["THIN"]
    assert "no bars today so far for: THIN" in report.warnings()


def test_a_today_file_of_another_session_is_replaced(tmp_path):
    yesterday = CAL.previous_session(DAY)
    path = today_path(tmp_path / TODAYS_BARS, "AAA")
    write_today(path, [Bar("AAA", t, 5.0, 5.0, 5.0, 5.0, 1.0) for t in list(yesterday.minutes())[:30]])
    now = at(DAY, "09:35", 1)
    disk = scan(tmp_path, ("AAA",), calendar=CAL, now_ms=now, sessions=1)
    assert disk.stale_today == {"AAA"} and disk.today_last == {"AAA": None}
    plan = plan_download(("AAA",), disk, calendar=CAL, now_ms=now, sessions=1)
    run_download(plan, FakeBars(), tmp_path, disk, calendar=CAL)
    assert [b.t for b in read_today(path)] == list(range(at(DAY, "09:30"), at(DAY, "09:35"), MINUTE_MS))


def test_an_unreadable_history_file_stops_the_download_and_is_left_untouched(tmp_path):
    path = history_path(tmp_path / EQUITIES, "AAA")
    path.parent.mkdir(parents=True)
    path.write_text("ts_utc,ts_nyt_epoch,open,high,low,close,volume\nnot,a,bar,at,all,x,y\n")
    before = path.read_bytes()
    with pytest.raises(HistoryFileError, match=r"AAA_RTH_NH\.csv.*left as it is"):
        scan(tmp_path, ("AAA",), calendar=CAL, now_ms=at(DAY, "08:00"), sessions=2)
    assert path.read_bytes() == before
