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
