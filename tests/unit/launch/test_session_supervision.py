"""The launcher's supervision of its two children (launch.sequence.Launch._supervise), with
fake processes on a fake clock: who is stopped when, and the exit code it ends with."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from common.stop_flag import StopFlag
from launch.children import ChildSettings
from launch.paths import Mode
from launch.sequence import Launch, LaunchOptions
from launch.supervisor import ChildState, Policy


class FakeProcess:
    def __init__(self, name: str, pid: int) -> None:
        self.name, self.pid = name, pid
        self.rc: int | None = None
        self.signals: list[str] = []

    def poll(self) -> int | None:
        return self.rc

    def terminate(self) -> None:
        self.signals.append("TERM")
        self.rc = 0

    def kill(self) -> None:
        self.signals.append("KILL")
        self.rc = -signal.SIGKILL


class World:
    """The fake clock (advanced by the launcher's sleep) and every process started."""

    def __init__(self, script: Callable[[float, World], None]) -> None:
        self.now = 0.0
        self.script = script
        self.procs: list[FakeProcess] = []

    def last(self, name: str) -> FakeProcess:
        return [p for p in self.procs if p.name == name][-1]

    def starter(self, cmd, _paths):
        def start() -> FakeProcess:
            p = FakeProcess(cmd.name, 100 + len(self.procs))
            self.procs.append(p)
            return p

        return start

    def sleep(self, s: float) -> None:
        self.now += s
        self.script(self.now, self)
        assert self.now < 3600, "the supervision never ended"


def supervise(tmp_path: Path, monkeypatch, script, stop: StopFlag | None = None):
    monkeypatch.chdir(tmp_path)
    world = World(script)
    launch = Launch(LaunchOptions(Mode.LIVE, policy=Policy(startsecs=5.0, startretries=2)),
                    stop=stop, monotonic=lambda: world.now, sleep=world.sleep, console=False)  # fmt: skip
    launch.starter = world.starter
    settings = ChildSettings("rotation", tmp_path / "bars.fifo", Path("config"), Path("config.env"), 20)
    code, ending, sup = launch._supervise(settings, {})
    return code, ending, sup, world


def test_the_engine_ending_the_day_stops_the_bridge(tmp_path, monkeypatch):
    def script(now, w):
        if now >= 60 and w.last("engine").rc is None:
            w.last("engine").rc = 0

    code, ending, sup, w = supervise(tmp_path, monkeypatch, script)
    assert (code, ending) == (0, "session over, flat")
    assert w.last("bridge").signals == ["TERM"] and w.last("engine").signals == []
    assert sup["engine"].state is ChildState.EXITED and sup["bridge"].state is ChildState.STOPPED


@pytest.mark.parametrize(("rc", "code", "ending"), [(3, 3, "halted"), (2, 2, "stopped: the operator must act")])
def test_a_halted_or_stuck_engine_is_not_restarted_and_its_code_is_the_launchers(tmp_path, monkeypatch, rc, code, ending):
    def script(now, w):
        if now >= 30 and w.last("engine").rc is None:
            w.last("engine").rc = rc

    got, got_ending, _, w = supervise(tmp_path, monkeypatch, script)
    assert (got, got_ending) == (code, ending)
    assert len([p for p in w.procs if p.name == "engine"]) == 1


def test_an_engine_that_keeps_crashing_is_fatal_and_the_bridge_is_stopped(tmp_path, monkeypatch):
    def script(now, w):
        e = w.last("engine")
        if e.rc is None and e.signals == []:
            e.rc = 1  # dies at once, every time

    code, ending, sup, w = supervise(tmp_path, monkeypatch, script)
    assert (code, ending) == (1, "engine FATAL")
    assert len([p for p in w.procs if p.name == "engine"]) == 3  # started + startretries
    assert w.last("bridge").signals == ["TERM"]


def test_a_fatal_bridge_leaves_the_engine_trading_to_the_close_then_the_exit_code_says_so(tmp_path, monkeypatch):
    def script(now, w):
        b = w.last("bridge")
        if b.rc is None and not b.signals:
            b.rc = 1
        if now >= 600 and w.last("engine").rc is None:
            w.last("engine").rc = 0  # the engine, on REST polling, ends the day flat

    code, ending, sup, w = supervise(tmp_path, monkeypatch, script)
    assert sup["bridge"].state is ChildState.FATAL
    assert w.last("engine").signals == []  # never stopped because of the bridge
    assert (code, ending) == (1, "session over, flat; bridge FATAL")


def test_a_bridge_that_needs_the_operator_leaves_the_engine_trading_too(tmp_path, monkeypatch):
    def script(now, w):
        if w.last("bridge").rc is None:
            w.last("bridge").rc = 2
        if now >= 100 and w.last("engine").rc is None:
            w.last("engine").rc = 0

    code, ending, _, w = supervise(tmp_path, monkeypatch, script)
    assert len([p for p in w.procs if p.name == "bridge"]) == 1
    assert (code, ending) == (2, "session over, flat; the bridge needs the operator")


def test_a_stop_request_stops_both_and_exits_0(tmp_path, monkeypatch):
    stop = StopFlag()

    def script(now, w):
        if now >= 20:
            stop.request("SIGINT")

    code, ending, sup, w = supervise(tmp_path, monkeypatch, script, stop)
    assert (code, ending) == (0, "stopped by SIGINT")
    assert w.last("engine").signals == ["TERM"] and w.last("bridge").signals == ["TERM"]
    assert sup.settled


class ArgvWorld(World):
    """Also records the engine's command line at each start."""

    def __init__(self, script: Callable[[float, World], None]) -> None:
        super().__init__(script)
        self.engine_argv: list[tuple[str, ...]] = []

    def starter(self, cmd, paths):
        if cmd.name == "engine":
            self.engine_argv.append(cmd.argv)
        return super().starter(cmd, paths)


@pytest.mark.parametrize(("mode", "params"), [(Mode.LIVE, "config/best_params.json"),
                                              (Mode.MOCK, "data/mock/best_params.json")])  # fmt: skip
def test_each_engine_start_is_given_the_parameters_file_there_is_then(tmp_path, monkeypatch, mode, params):
    """The file may appear while the engine runs (the midday re-optimization promotes): the
    next start trades it. Mock mode's own file: parameters fitted on synthetic data never
    reach the live engine."""
    monkeypatch.chdir(tmp_path)

    def script(now, w):
        e = w.last("engine")
        if now >= 20 and not Path(params).exists():
            Path(params).parent.mkdir(parents=True, exist_ok=True)
            Path(params).write_text("{}")
        if 30 <= now < 60 and e.rc is None and e.signals == [] and len(w.engine_argv) == 1:
            e.rc = 1  # a crash: restarted
        if now >= 100 and e.rc is None:
            e.rc = 0

    world = ArgvWorld(script)
    launch = Launch(LaunchOptions(mode, policy=Policy(startsecs=5.0, startretries=2)),
                    monotonic=lambda: world.now, sleep=world.sleep, console=False)  # fmt: skip
    launch.starter = world.starter
    settings = ChildSettings("rotation", tmp_path / "bars.fifo", Path("config"), Path("config.env"), 20)
    code, _, _ = launch._supervise(settings, {})
    assert code == 0 and len(world.engine_argv) == 2
    assert "--params" not in world.engine_argv[0]
    argv = world.engine_argv[1]
    assert argv[argv.index("--params") + 1] == params
