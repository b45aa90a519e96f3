"""Chaos sessions: whole mock sessions whose processes are SIGKILLed at seeded moments.

A session runs on a :class:`tests.support.e2e_rig.Rig` (real mockmarket, bridge and engine
processes). Its kills come from a seeded :class:`KillPlan`:

- ``engine`` — SIGKILL from outside, a seeded few milliseconds after the clock stepped
  (while the minute is read, decided, sent or journaled);
- ``bridge`` — between two minutes on a paused clock (in real time: at any moment), then
  a new bridge;
- ``engine@<point>`` — the engine kills itself at a named crash point
  (:mod:`engine.crash_points`): each relaunch is armed with the plan's next point, so a
  crash during reconciliation can follow one during the warm-up.

:func:`lockstep_session` keeps the clock paused while anything restarts (each minute is
stepped once the engine has decided the one before), so a killed session must send exactly
the orders of the uninterrupted one. :func:`realtime_session` lets the clock run and kills
the engine every few simulated minutes. :func:`outcome` measures a finished session:
duplicate orders, lost fills, the journal against the broker, flat at the close, and the
orders and fills against a reference run.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from common.calendar import from_ms
from engine.crash_points import ENV_VAR, POINTS
from engine.order_ids import parse_client_order_id
from tests.support.e2e_rig import Rig
from tests.support.processes import Proc, poll

RESULTS_VAR = "CHAOS_RESULTS"
"""A directory: each finished session appends its outcome there (``make chaos``'s table)."""
PINNED = {"session__no_entry_minutes_before_close": 5}
"""The chaos sessions' config over the whole-session tests' base (the ported tuning, which
trades from the first warm minutes: these sessions test the processes, not the edge):
entries allowed until 15:55, so that a short session late in the day trades. Pinned:
nothing optimizes it."""
ENGINE_ARGS = ("--rest-fallback", "1")  # a minute whose batch died with a bridge comes from REST


@dataclass
class KillPlan:
    """When and what to kill in one session (all of it from ``seed``)."""

    seed: int
    kills: dict[int, str] = field(default_factory=dict)
    """Lockstep step (minutes after the start) → ``engine`` or ``bridge``."""
    points: list[str] = field(default_factory=list)
    """The crash points the engine's lives are armed with, in order (the first life first)."""
    delays: list[float] = field(default_factory=list)
    """Seconds after a step each outside kill waits, in order."""

    @classmethod
    def draw(cls, seed: int, steps: int, kills: int, *, targets: Sequence[str] = ("engine", "bridge"),
             points: Sequence[str] = POINTS, eod_step: int | None = None) -> KillPlan:  # fmt: skip
        """``kills`` outside kills at distinct random steps before ``eod_step`` (or the end);
        the engine's lives armed with random crash points, ``eod`` last when the session
        reaches it (the life after the last outside kill of the engine)."""
        rng = random.Random(seed)
        last = (eod_step if eod_step is not None else steps) - 1
        at = sorted(rng.sample(range(1, max(last, 2)), min(kills, max(last - 1, 1))))
        plan = cls(seed, {s: rng.choice(list(targets)) for s in at})
        plan.delays = [rng.uniform(0.0, 0.04) for _ in at]
        lives = 1 + sum(t == "engine" for t in plan.kills.values())
        early = [p for p in points if p != "eod"]
        plan.points = [rng.choice(early) for _ in range(lives)] if early else []
        if "eod" in points and eod_step is not None:
            plan.points.append("eod")
        return plan


@dataclass
class Outcome:
    """What one session came to (a row of ``make chaos``'s table is a sum of these)."""

    scenario: str
    seed: int
    kills: dict[str, int]
    duplicates: int
    lost_fills: int
    journal_equals_broker: bool
    flat: bool
    identical: bool | None
    orders: list[tuple[str, str, str, float]]
    fills: list[tuple[str, float, float]]

    def __str__(self) -> str:
        return (f"{self.scenario} seed {self.seed}: kills {self.kills}, duplicates {self.duplicates}, "
                f"lost fills {self.lost_fills}, journal = broker {self.journal_equals_broker}, "
                f"flat {self.flat}, identical {self.identical}")  # fmt: skip

    @property
    def total_kills(self) -> int:
        return sum(self.kills.values())

    def save(self) -> None:
        """Append to ``$CHAOS_RESULTS/outcomes.jsonl`` when set."""
        out = os.environ.get(RESULTS_VAR)
        if out:
            Path(out).mkdir(parents=True, exist_ok=True)
            row = {k: v for k, v in asdict(self).items() if k not in ("orders", "fills")}
            with open(Path(out) / "outcomes.jsonl", "a") as f:
                f.write(json.dumps(row) + "\n")


class Session:
    """One chaos session's processes: the bridge and the engine, relaunched after kills."""

    def __init__(self, rig: Rig, strategy: str, symbols: tuple[str, ...], plan: KillPlan) -> None:
        self.rig = rig
        self.strategy = strategy
        self.symbols = symbols
        self.plan = plan
        self.points = list(plan.points)
        self.kills: Counter[str] = Counter()
        self.bridge: Proc | None = None
        self.engine: Proc | None = None
        self.armed: str | None = None
        self.step = 0
        self.eod_pending = "eod" in self.points  # armed on the life the end of day falls in
        self.points = [p for p in self.points if p != "eod"]

    # -- processes
    def start_bridge(self) -> None:
        self.bridge = self.rig.start_bridge(self.symbols)

    def start_engine(self) -> Proc:
        if self.eod_pending and not any(t == "engine" and at > self.step for at, t in self.plan.kills.items()):
            self.armed, self.eod_pending = "eod", False  # no outside kill of the engine to come
        else:
            self.armed = self.points.pop(0) if self.points else None
        env = {ENV_VAR: f"{self.armed}:1"} if self.armed else {}
        self.engine = self.rig.start_engine(self.strategy, *ENGINE_ARGS, env=env)
        return self.engine

    def engine_died(self) -> None:
        """The engine is gone: count it (a crash point or an outside kill) and relaunch it;
        any other exit is a failure."""
        assert self.engine is not None
        code = self.engine.wait(30)
        if code != -signal.SIGKILL:
            raise AssertionError(f"the engine exited with {code}:\n{self.engine.output()[-4000:]}")
        self.kills[f"engine@{self.armed}" if self.armed else "engine"] += 1
        self.start_engine()

    def ready(self, timeout: float = 120) -> None:
        """Until the engine trades (or is done): relaunched as often as it dies meanwhile."""

        def up() -> bool:
            assert self.engine is not None
            if not self.engine.alive():
                if self.engine.p.returncode == 0:
                    return True  # started after the close: done at once
                self.engine_died()
                return False
            s = self.rig.state()
            return bool(s and s.get("pid") == self.engine.pid and s.get("phase") in ("trading", "done"))

        poll(up, timeout, "the engine to trade", every=0.01)

    def kill_engine(self, delay: float) -> None:
        assert self.engine is not None
        time.sleep(delay)
        if self.engine.alive():
            self.engine.kill()
            self.armed = None  # an outside kill: the armed point was not reached
            self.engine_died()

    def kill_bridge(self, delay: float) -> None:
        assert self.bridge is not None
        time.sleep(delay)
        self.bridge.kill()
        self.kills["bridge"] += 1
        poll(lambda: self.subscribed() == 0, 30, "the market to see the bridge gone", every=0.01)
        self.start_bridge()
        self.wait_subscribed()

    def subscribed(self) -> int:
        """How many market-data connections have subscribed to bars."""
        streams = self.rig.market.admin("GET", "/admin/streams")["data"]
        return sum(bool(c["subscriptions"].get("bars")) for c in streams)

    def wait_subscribed(self) -> None:
        poll(lambda: self.subscribed() >= 1, 30, "the bridge to subscribe", every=0.01)

    def stop(self) -> None:
        for p in (self.bridge, self.engine):
            if p is not None and p.alive():
                p.terminate(15)


def lockstep_session(rig: Rig, strategy: str, symbols: tuple[str, ...], plan: KillPlan, *,
                     on_step: Callable[[Session, int], None] | None = None,
                     timeout: float = 600.0) -> Session:  # fmt: skip
    """The session to its end on a paused clock, one minute a step, each step once the engine
    has decided the minute before; the plan's kills at their steps; every kill followed by a
    relaunch before the clock moves on; ``on_step(session, step)`` before each step (step 0:
    before the engine starts). Returns once the engine exited 0 (after the close)."""
    s = Session(rig, strategy, symbols, plan)
    rig.clock(action="step", seconds=30)
    s.start_bridge()
    s.wait_subscribed()
    if on_step is not None:
        on_step(s, 0)
    s.start_engine()
    s.ready()
    deadline = time.monotonic() + timeout
    delays = iter(plan.delays)
    step = 0
    assert s.engine is not None
    while not (not s.engine.alive() and s.engine.p.returncode == 0):
        if time.monotonic() > deadline:
            raise AssertionError(f"chaos lockstep: the session did not end in {timeout} s")
        step += 1
        s.step = step
        if on_step is not None:
            on_step(s, step)
        target = plan.kills.get(step)
        if target == "bridge":  # between two minutes: a batch it never forwarded would come
            s.kill_bridge(next(delays))  # from REST after a silence the engine measures by
        # paused one defeats (on_step may have moved the clock within the minute)
        now = rig.clock(action="step", seconds=60)["now_ms"]  # the broker's clock, which a
        if target == "engine":
            s.kill_engine(next(delays))
        closed = (now // 60_000) * 60_000 - 60_000
        if not rig.session.contains_minute(closed):
            if not s.engine.alive() and s.engine.p.returncode != 0:
                s.engine_died()
                s.ready()
            continue

        def decided(t: int = closed) -> bool:
            assert s.engine is not None
            if not s.engine.alive():
                if s.engine.p.returncode == 0:
                    return True
                s.engine_died()
                s.ready()
            st = rig.state()
            return bool(st and st.get("pid") == s.engine.pid and (st.get("last_t_ms") or 0) >= t)

        poll(decided, 60, f"the engine to decide {from_ms(closed).isoformat()}", every=0.005)
    s.stop()
    return s


def realtime_session(rig: Rig, strategy: str, symbols: tuple[str, ...], *, seed: int, every_min: float,
                     every_max: float, last_kill_ms: int, bridge_share: float = 0.3,
                     timeout: float = 600.0) -> Session:  # fmt: skip
    """The clock running; the engine (or, ``bridge_share`` of the times, the bridge) SIGKILLed
    every ``every_min``..``every_max`` simulated minutes (seeded) until ``last_kill_ms`` and
    relaunched at once, the clock still running,
    until it ends the day. (A relaunch takes real seconds, simulated minutes at a high speed:
    an engine killed just before the end of day would come back after the close, which no
    engine can flatten — the end of day under kills is the lockstep sessions' part.)"""
    rng = random.Random(seed)
    s = Session(rig, strategy, symbols, KillPlan(seed))
    rig.clock(action="step", seconds=30)
    s.start_bridge()
    s.wait_subscribed()
    s.start_engine()
    s.ready()
    rig.clock(action="resume")
    deadline = time.monotonic() + timeout
    next_kill = rig.market.now_ms() + int(rng.uniform(every_min, every_max) * 60_000)
    assert s.engine is not None
    while not (not s.engine.alive() and s.engine.p.returncode == 0):
        if time.monotonic() > deadline:
            raise AssertionError(f"chaos real time: the session did not end in {timeout} s")
        if not s.engine.alive():
            s.engine_died()
            continue
        now = rig.market.now_ms()
        if next_kill <= now < last_kill_ms:
            if rng.random() < bridge_share:
                s.kill_bridge(0.0)
            else:
                s.kill_engine(0.0)
            next_kill = now + int(rng.uniform(every_min, every_max) * 60_000)
        time.sleep(0.01)
    s.stop()
    return s


_references: dict[tuple[Any, ...], Outcome] = {}


def reference(make_rig: Callable[..., Rig], strategy: str, symbols: tuple[str, ...], *, day: Any,
              start_time: str) -> Outcome:  # fmt: skip
    """The uninterrupted lockstep session of ``strategy`` on ``day`` from ``start_time`` (its
    config written by the caller's ``make_rig``), run once per process and kept."""
    key = (strategy, day, start_time)
    if key not in _references:
        rig = make_rig(day=day, start_time=start_time, name=f"reference_{strategy}_{day}_{start_time}")
        ref = outcome("reference", lockstep_session(rig, strategy, symbols, KillPlan(0)))
        assert ref.duplicates == 0 and ref.lost_fills == 0 and ref.journal_equals_broker and ref.flat, str(ref)
        assert len(ref.orders) >= 4, "the reference session hardly trades: it tests nothing"
        _references[key] = ref
    return _references[key]


def outcome(scenario: str, s: Session, reference: Outcome | None = None) -> Outcome:
    """Measure the finished session ``s`` (``reference``: the uninterrupted run to compare)."""
    rig = s.rig
    return measure(scenario, s.plan.seed, dict(s.kills), rig.broker_orders(), rig.journal_rows,
                   rig.positions(), strategy=s.strategy, day=rig.day.isoformat(), reference=reference)  # fmt: skip


def measure(scenario: str, seed: int, kills: dict[str, int], orders: list, journal_rows: Callable[..., list],
            positions: dict[str, float], *, strategy: str, day: str,
            reference: Outcome | None = None) -> Outcome:  # fmt: skip
    """A finished session's outcome from the broker's ``orders`` (every order of the day),
    ``journal_rows(sql, *args)`` on the engine's journal and the broker's ``positions``."""
    journaled = {r["client_order_id"]: r for r in journal_rows(  # lost intents never were orders
        "SELECT * FROM orders WHERE strategy=? AND session_date=? AND NOT (status='lost' AND"
        " broker_order_id IS NULL)", strategy, day)}  # fmt: skip
    fills = journal_rows("SELECT client_order_id, qty, price FROM fills WHERE strategy=? AND "
                         "session_date=?", strategy, day)  # fmt: skip
    # duplicates: more than one order at the broker for one decision (minute, symbol, side)
    keys: Counter[tuple[Any, ...]] = Counter()
    for o in orders:
        k = parse_client_order_id(o.client_order_id)
        keys[(k.t_ms if k else o.client_order_id, o.symbol, o.side)] += 1
    duplicates = sum(n - 1 for n in keys.values())
    # lost fills: an order whose fills at the broker the journal does not add up to
    lost = 0
    for o in orders:
        got = sum(f["qty"] for f in fills if f["client_order_id"] == o.client_order_id)
        lost += abs(got - o.filled_qty) > 1e-9
    equal = set(journaled) == {o.client_order_id for o in orders} and all(
        (journaled[o.client_order_id]["status"], journaled[o.client_order_id]["filled_qty"])
        == (o.status, o.filled_qty)
        for o in orders
    )
    got_orders = sorted((o.client_order_id, o.symbol, o.side, o.qty) for o in orders)
    got_fills = sorted((o.client_order_id, o.filled_qty, o.filled_avg_price or 0.0) for o in orders)
    identical = None
    if reference is not None:
        identical = got_orders == reference.orders and got_fills == reference.fills
    return Outcome(scenario, seed, kills, duplicates, lost, equal, positions == {}, identical, got_orders,
                   got_fills)  # fmt: skip


__all__ = ["KillPlan", "Outcome", "Session", "PINNED", "lockstep_session", "measure", "outcome", "realtime_session", "reference"]
