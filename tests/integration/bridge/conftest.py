"""Real processes: a mockmarket server, ``python -m bridge`` and a FIFO reader process.

The reader (``fifo_reader.py`` beside this file) appends every FIFO line to a file;
tests read that file. Processes are stopped by their own pid only.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from common.bars import MINUTE_MS
from common.calendar import nyse
from tests.support.processes import ROOT, Proc, child_env, poll

READER = Path(__file__).with_name("fifo_reader.py")
ROTATION = ("ERX", "ERY", "FAS", "FAZ", "SDS", "SSO", "SQQQ", "SVXY", "TNA", "TQQQ", "TZA", "UVXY")


@dataclass
class Received:
    batches: list[dict]
    heartbeats: list[dict]

    @property
    def minutes(self) -> list[int]:
        return [b["t"] for b in self.batches]


def read_lines(path: Path) -> Received:
    batches, heartbeats = [], []
    if path.exists():
        for line in path.read_text().splitlines():
            obj = json.loads(line)
            (batches if obj["type"] == "bars" else heartbeats).append(obj)
    return Received(batches, heartbeats)


def assert_clean(rec: Received, symbols: tuple[str, ...] = ROTATION) -> None:
    """Each minute at most once, strictly in order, every batch complete and well formed."""
    ts = rec.minutes
    assert len(ts) == len(set(ts)), f"duplicate minutes: {sorted(t for t in ts if ts.count(t) > 1)}"
    assert ts == sorted(ts), "minutes out of order"
    for b in rec.batches:
        got = [x["symbol"] for x in b["bars"]]
        assert got == list(symbols), f"batch {b['t']} has {got}"
        for x in b["bars"]:
            if x["filled"]:
                assert x["volume"] == 0 and x["open"] == x["high"] == x["low"] == x["close"]
        assert nyse().session_of_minute(b["t"]) is not None, f"{b['t']} is off the session grid"


def contiguous(ts: list[int]) -> bool:
    return ts == list(range(ts[0], ts[-1] + MINUTE_MS, MINUTE_MS)) if ts else True


class BridgeRig:
    """One market, one FIFO, one output file; bridges and readers started on demand."""

    def __init__(self, market, tmp: Path, symbols: tuple[str, ...] = ROTATION) -> None:
        self.market = market
        self.tmp = tmp
        self.symbols = symbols
        self.fifo = tmp / "bars.fifo"
        self.out = tmp / "received.jsonl"
        self.log_dir = tmp / "logs"
        self.procs: list[Proc] = []
        self.n = 0

    def env(self) -> dict[str, str]:
        return child_env(self.market.env())

    def start_bridge(self, *extra: str) -> Proc:
        self.n += 1
        args = [sys.executable, "-m", "bridge", "--symbols", ",".join(self.symbols), "--fifo", str(self.fifo),
                "--log-dir", str(self.log_dir), "--config-env", str(self.tmp / "absent.env"),
                "--silence-min", "2", *extra]
        p = Proc(args, self.env(), self.tmp / f"bridge{self.n}.out")
        self.procs.append(p)
        return p

    def start_reader(self) -> Proc:
        self.n += 1
        p = Proc([sys.executable, str(READER), str(self.fifo), str(self.out)], self.env(),
                 self.tmp / f"reader{self.n}.out")
        self.procs.append(p)
        return p

    def start_all(self, *bridge_args: str) -> tuple[Proc, Proc]:
        """Bridge and reader on a paused market; the clock resumes once the bridge is subscribed."""
        bridge = self.start_bridge(*bridge_args)
        reader = self.start_reader()
        poll(lambda: any(h["connected"] for h in self.received().heartbeats), 30, "a connected heartbeat")
        self.clock(action="resume")
        return bridge, reader

    def bridge_log(self, proc: Proc | None = None) -> str:
        """All bridge log files (or one process's console output)."""
        if proc is not None:
            return proc.output()
        return "\n".join(p.read_text() for p in sorted(self.log_dir.glob("bridge_*.log")))

    def received(self) -> Received:
        return read_lines(self.out)

    def wait_minutes(self, n: int, timeout: float = 30) -> Received:
        """Until ``n`` batches in all have reached the reader."""
        poll(lambda: len(self.received().batches) >= n, timeout, f"{n} batches at the reader")
        return self.received()

    def wait_new_minutes(self, after: int, n: int, timeout: float = 30) -> Received:
        """Until ``n`` batches later than minute ``after`` have reached the reader."""
        poll(lambda: sum(t > after for t in self.received().minutes) >= n, timeout,
             f"{n} batches after {after} at the reader")
        return self.received()

    def counters(self) -> dict:
        return self.market.admin("GET", "/admin/counters")

    def faults(self, **values) -> dict:
        return self.market.admin("POST", "/admin/faults", json=values)

    def clock(self, **body) -> dict:
        return self.market.admin("POST", "/admin/clock", json=body)

    def close(self) -> None:
        for p in self.procs:
            if p.alive():
                with contextlib.suppress(Exception):
                    p.kill()


@pytest.fixture
def rig_factory(tmp_path) -> Iterator[Callable[..., BridgeRig]]:
    """``rig_factory(speed=60.0, start_time="09:29", **market_kw)`` → a running rig."""
    from mockmarket.harness import run_market

    stack = contextlib.ExitStack()
    rigs: list[BridgeRig] = []

    def make(speed: float = 120.0, start_time: str = "09:29", sessions: int = 2, **kw) -> BridgeRig:
        market = stack.enter_context(run_market(tmp_path / "market", speed=speed, start_time=start_time,
                                                sessions=sessions, **kw))
        rig = BridgeRig(market, tmp_path)
        rigs.append(rig)
        return rig

    try:
        yield make
    finally:
        for r in rigs:
            r.close()
        stack.close()


@pytest.fixture
def helpers():
    return SimpleNamespace(assert_clean=assert_clean, contiguous=contiguous, poll=poll, read_lines=read_lines,
                           Proc=Proc, child_env=child_env, ROTATION=ROTATION, ROOT=ROOT)
