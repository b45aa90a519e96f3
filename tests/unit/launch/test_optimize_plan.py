"""Where the optimization sits on the way to trading (launch.optimize.plan_before_trading):
all of it before the open; once the session is open, none after today's has run (a relaunch
trades again at once), else only as many seconds as --optimize-budget."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from common.calendar import from_ms, ny_datetime, nyse, to_ms
from launch.optimize import plan_before_trading
from optimize.last_run import LastRun

DAY = date(2025, 10, 16)
YESTERDAY = date(2025, 10, 15)
SESSION = nyse().session(DAY)


def run_on(data_end: date, partial: str | None = None) -> LastRun:
    pe = None if partial is None else from_ms(to_ms(ny_datetime(data_end, partial)))
    return LastRun(data_end, pe, 100, "kept", datetime(2025, 10, 16, 13, 0, tzinfo=UTC))


def plan(hhmm: str, last: LastRun | None, budget_s: float = 60.0, skip: bool = False):
    return plan_before_trading(session=SESSION, now_ms=to_ms(ny_datetime(DAY, hhmm)),
                               last_closed=YESTERDAY, last=last, budget_s=budget_s, skip=skip)  # fmt: skip


@pytest.mark.parametrize("last", [None, run_on(YESTERDAY)])
def test_before_the_open_every_trial_runs(last):
    p = plan("08:45", last)
    assert p.run and p.budget_s is None and p.why == "before the open: every trial"


@pytest.mark.parametrize("last", [run_on(YESTERDAY), run_on(DAY, "12:44")])
def test_a_relaunch_during_the_session_after_todays_run_trades_at_once(last):
    p = plan("11:05", last)
    assert not p.run and "today's optimization has already run" in p.why and "trading at once" in p.why


@pytest.mark.parametrize("last", [None, run_on(date(2025, 10, 14))])
def test_a_first_launch_during_the_session_is_time_boxed(last):
    p = plan("09:30", last, budget_s=45)
    assert p.run and p.budget_s == 45 and "time-boxed to 45 s" in p.why


def test_no_budget_or_the_skip_flag_skips_it():
    assert not plan("11:05", None, budget_s=0).run
    for hhmm in ("08:45", "11:05"):
        p = plan(hhmm, None, skip=True)
        assert not p.run and "--skip-optimize" in p.why


class Clock:
    def __init__(self, t_ms: int) -> None:
        self.timestamp_ms = t_ms


class Rest:
    def __init__(self, t_ms: int) -> None:
        self.t_ms = t_ms

    def get_clock(self) -> Clock:
        return Clock(self.t_ms)


@pytest.mark.parametrize(("hhmm", "recorded", "ran", "budget"), [
    ("08:45", True, True, None),  # before the open: all of it
    ("11:05", True, False, None),  # a relaunch: today's has run
    ("11:05", False, True, 60.0),  # a first launch during the session: time-boxed
])  # fmt: skip
def test_the_launcher_follows_the_plan(tmp_path, monkeypatch, hhmm, recorded, ran, budget):
    from launch.paths import Mode
    from launch.sequence import Launch, LaunchOptions
    from optimize.last_run import write_last_run

    monkeypatch.chdir(tmp_path)
    calls = []
    monkeypatch.setattr("launch.sequence.optimize_before_trading",
                        lambda *a, **kw: calls.append((a, kw)))  # fmt: skip
    launch = Launch(LaunchOptions(Mode.MOCK), console=False)
    if recorded:
        write_last_run(launch.paths.data_dir, "rotation", run_on(YESTERDAY))
    launch.rest = Rest(to_ms(ny_datetime(DAY, hhmm)))  # type: ignore[assignment]
    launch._optimize_before_trading(SESSION, 0)
    assert len(calls) == int(ran)
    if ran:
        (args, kw), = calls
        assert kw["budget_s"] == budget and kw["when"] == "before trading" and not kw["today"]
        assert kw["params_file"] == launch.paths.data_dir / "best_params.json"
