"""The midday restart inside the supervision loop (launch.sequence._Midday): at the broker's
midday time the engine is stopped with SIGTERM, the refresh (download + optimize) runs
while the loop goes on, then the same engine child is started again."""

from __future__ import annotations

import signal
import threading

from common.stop_flag import StopFlag
from launch.optimize import OptimizerSettings
from launch.paths import Mode
from launch.sequence import LaunchOptions, _Midday
from launch.supervisor import Child, ChildState, Policy


class Proc:
    def __init__(self, pid: int) -> None:
        self.pid, self.rc, self.signals = pid, None, []

    def poll(self):
        return self.rc

    def terminate(self) -> None:
        self.signals.append("TERM")
        self.rc = 0

    def kill(self) -> None:
        self.signals.append("KILL")
        self.rc = -signal.SIGKILL


class FakeLaunch:
    def __init__(self) -> None:
        self.opts = LaunchOptions(Mode.LIVE, optimizer=OptimizerSettings(trials=1), midday="12:45")
        self.stop = StopFlag()
        self.symbols = ("SPY",)
        self.broker_ms = 0
        self.refreshed = threading.Event()
        self.release = threading.Event()
        self.rest = object()

    def rest_now_or(self, default: int) -> int:
        return self.broker_ms

    def _midday_refresh(self, symbols) -> None:
        assert symbols == ("SPY",)
        self.refreshed.set()
        self.release.wait(10)


def test_the_engine_is_stopped_refreshed_and_started_again():
    procs: list[Proc] = []

    def spawn() -> Proc:
        procs.append(Proc(100 + len(procs)))
        return procs[-1]

    engine = Child("engine", spawn, Policy(startsecs=1.0))
    launch = FakeLaunch()
    midday = _Midday(1_000, launch)  # type: ignore[arg-type]
    engine.start(0.0)
    engine.transition(2.0)
    assert engine.state is ChildState.RUNNING
    assert not midday.step(2.0, engine)  # before the midday time: nothing
    launch.broker_ms = 1_000
    assert midday.step(5.0, engine) and procs[0].signals == ["TERM"]
    engine.transition(5.1)
    assert engine.state is ChildState.STOPPED and engine.returncode == 0
    assert midday.step(5.2, engine)  # the refresh starts, in a thread
    assert launch.refreshed.wait(10)
    assert midday.step(5.3, engine) and engine.state is ChildState.STOPPED  # still refreshing
    launch.release.set()
    assert midday.thread is not None
    midday.thread.join(10)
    assert midday.step(6.0, engine)
    assert engine.state is ChildState.STARTING and len(procs) == 2  # started again, once
    assert not midday.step(9.0, engine) and midday.stage == "done"


def test_the_midday_refresh_downloads_then_optimizes_within_the_budget_and_not_at_all_without_one(
    monkeypatch, tmp_path
):
    import dataclasses
    from types import SimpleNamespace

    import launch.sequence as seq

    downloads: list[tuple] = []
    optimized: list[tuple] = []

    class Rest:
        def __init__(self, endpoints, **kw) -> None:
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            pass

        def get_clock(self):
            return SimpleNamespace(timestamp_ms=42)

    monkeypatch.setattr(seq, "AlpacaRestClient", Rest)
    monkeypatch.setattr(seq, "download", lambda rest, symbols, data_dir, **kw: downloads.append((symbols, kw["now_ms"])))

    def launch_with(budget_s: float) -> SimpleNamespace:
        opts = dataclasses.replace(FakeLaunch().opts, optimizer=OptimizerSettings(trials=1, budget_s=budget_s))
        me = SimpleNamespace(endpoints=object(), opts=opts, paths=SimpleNamespace(data_dir=tmp_path),
                             calendar=None)  # fmt: skip
        me._optimize = lambda now, when, **kw: optimized.append((now, when, kw))
        return me

    seq.Launch._midday_refresh(launch_with(0.0), ("SPY",))  # type: ignore[arg-type]
    assert downloads == [(("SPY",), 42)] and optimized == []  # the morning's bars, no trial
    seq.Launch._midday_refresh(launch_with(30.0), ("SPY",))  # type: ignore[arg-type]
    assert optimized == [(42, "at midday", {"today": True, "budget_s": 30.0})]
