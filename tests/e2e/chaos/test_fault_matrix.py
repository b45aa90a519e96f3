"""The fault matrix (issue 12, item 3): one scenario per fault against the whole pipeline
(real mockmarket, bridge and engine processes), each named after its fault.

Each new scenario is a short lockstep session (15:44 to the close, the end of day included)
with its fault injected through mockmarket's admin API where it hurts — the bridge's faults
in mid-session, the order faults on the minutes that send orders (the start-up decision and
the end of day) — and must keep the promise: no duplicate order, no lost fill, the journal
equal to the broker's order list, flat at the close. A fault that only delays the feed (the
minute then comes from REST) must leave the orders and fills identical to the uninterrupted
session's. Every scenario checks that its fault fired.

Faults whose whole-pipeline scenario exists already are named here, not run twice
(``EXISTING``; :func:`test_every_fault_has_its_scenario` checks they still exist).

They run in ``make chaos`` (``CHAOS_SESSIONS`` set; ``CHAOS_SHARD`` splits them); ``make
test`` keeps to the quick kill subset.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pytest

from tests.support.chaos import PINNED, KillPlan, Session, lockstep_session, outcome, reference
from tests.support.processes import ROOT, poll

ROTATION = ("ERX", "ERY", "FAS", "FAZ", "SDS", "SSO", "SQQQ", "SVXY", "TNA", "TQQQ", "TZA", "UVXY")
START = "15:44"
EOD_STEP = 14  # the step that publishes the 15:57 bar
DST_DAY = date(2025, 11, 3)  # the first session after the clocks went back (2025-11-02)

LONG = "CHAOS_SESSIONS" in os.environ
SHARD, SHARDS = (int(x) for x in os.environ.get("CHAOS_SHARD", "0/1").split("/"))

EXISTING = {
    "trade-updates stream dropping": "tests/e2e/test_trade_stream_drop.py::"
    "test_fills_arrive_by_polling_while_the_stream_is_down_and_none_twice",
    "partial fills": "tests/e2e/test_trade_stream_drop.py::"
    "test_fills_arrive_by_polling_while_the_stream_is_down_and_none_twice",  # every fill partial there
    "half day": "tests/e2e/test_sessions.py::test_a_half_day_is_flattened_at_12_58",
    "holiday": "tests/e2e/launch/test_launch_closed.py::"
    "test_after_the_close_and_on_a_holiday_it_exits_0_with_a_clear_message",
    # the bridge alone (real mockmarket, bridge and FIFO reader): a silent socket loses the
    # minute it swallows, which in lockstep only REST could bring, after the engine's
    # silence by the broker's clock — which a paused clock defeats
    "silent socket": "tests/integration/bridge/test_bridge_recovery.py::test_silent_socket_is_replaced",
    # the launcher stops the engine at --midday-time, re-optimizes and restarts it: no order at
    # the restart, none twice (broker against journal), flat at the close
    "--midday-optimize": "tests/e2e/launch/test_launch_midday.py::"
    "test_midday_reoptimization_restarts_the_engine_without_an_order",
}


@dataclass(frozen=True)
class Fault:
    name: str
    on_step: Callable[[Session, int], None]
    fired: Callable[[Session], bool]
    identical: bool  # the orders and fills of the uninterrupted session, exactly
    day: date | None = None


def _faults(s: Session, **body: object) -> dict:
    return s.rig.market.admin("POST", "/admin/faults", json=body)


def _fault_now(s: Session, name: str) -> object:
    return s.rig.market.admin("GET", "/admin/faults")[name]


def _restart_bridge(s: Session, **faults: object) -> None:
    """SIGKILL the bridge and start a new one into ``faults``."""
    assert s.bridge is not None
    s.bridge.kill()
    poll(lambda: s.subscribed() == 0, 30, "the market to see the bridge gone", every=0.01)
    _faults(s, **faults)
    s.start_bridge()


# The bridge's faults play out between two minutes, the clock paused (or moved within the
# minute): a minute the bridge never forwards would reach the engine from REST only after a
# silence the engine measures by the broker's clock, which a paused clock defeats.


def _storm_406(s: Session) -> None:
    _restart_bridge(s, connection_limit_seconds=20)  # Alpaca's window after a disconnect
    poll(lambda: s.rig.counters()["data_auth_406"] >= 2, 60, "a storm of 406s")
    s.rig.clock(action="step", seconds=25)  # the window passes within the minute
    s.wait_subscribed()


def _handshake_429(s: Session) -> None:
    _restart_bridge(s, handshake_429_count=3)
    poll(lambda: s.rig.counters()["handshake_429"] >= 3, 60, "three 429s")
    s.wait_subscribed()


def _at(steps: tuple[int, ...], act: Callable[[Session], None]) -> Callable[[Session, int], None]:
    def on_step(s: Session, step: int) -> None:
        if step in steps:
            act(s)

    return on_step


def _counter(name: str, at_least: int) -> Callable[[Session], bool]:
    return lambda s: s.rig.counters()[name] >= at_least


def _consumed(name: str) -> Callable[[Session], bool]:
    return lambda s: _fault_now(s, name) == 0


def _fifo_deleted(s: Session, step: int) -> None:
    if step == 3:  # deleted: the bridge makes a new one, the engine's reader follows
        os.unlink(s.rig.fifo)
    elif step == 6:  # deleted and made again by someone else (the same user)
        os.unlink(s.rig.fifo)
        os.mkfifo(s.rig.fifo, 0o600)


def _fifo_notices(s: Session) -> int:
    """How often the engine's reader or the bridge's writer saw its FIFO deleted or replaced
    (which side notices a deletion first is a race: either then follows the other)."""
    logs = "".join(p.read_text() for g in ("trader_*.log", "bridge_*.log") for p in s.rig.log_dir.glob(g))
    return len(re.findall(r"was deleted|was replaced|the FIFO path was deleted or replaced", logs))


ORDER_STEPS = (0, EOD_STEP)  # the start-up decision's orders and the end of day's

MATRIX = [
    Fault("406 storm at restart", _at((3,), _storm_406), _counter("data_auth_406", 2), identical=True),
    Fault("handshake 429", _at((3,), _handshake_429), _counter("handshake_429", 3), identical=True),
    Fault("FIFO deleted and recreated", _fifo_deleted,
          lambda s: _fifo_notices(s) >= 2, identical=True),
    Fault("REST 429 burst while orders are sent", _at(ORDER_STEPS, lambda s: _faults(s, rest_429_count=3)),
          _consumed("rest_429_count"), identical=True),
    Fault("REST 5xx burst while orders are sent", _at(ORDER_STEPS, lambda s: _faults(s, rest_5xx_count=3)),
          _consumed("rest_5xx_count"), identical=True),
    Fault("REST retries running out", _at((EOD_STEP,), lambda s: _faults(s, rest_5xx_count=8)),
          _consumed("rest_5xx_count"), identical=False),
    Fault("accepted order, response lost",
          _at(ORDER_STEPS, lambda s: _faults(s, lose_order_response_count=1)),
          _consumed("lose_order_response_count"), identical=True),
    Fault("rejected orders", _at(ORDER_STEPS, lambda s: _faults(s, reject_order_count=1)),
          _counter("orders_rejected", 2), identical=False),
    Fault("daylight-saving change day", lambda s, step: None, lambda s: True, identical=False, day=DST_DAY),
]  # fmt: skip
MINE = [f for i, f in enumerate(MATRIX) if i % SHARDS == SHARD] if LONG else []


def _rig(rig_factory, **kw):
    rig = rig_factory(**kw)
    rig.write_config("rotation", **PINNED)
    return rig


@pytest.mark.skipif(not MINE, reason="make chaos only (CHAOS_SESSIONS set), or another shard's")
@pytest.mark.parametrize("fault", MINE or MATRIX[:1], ids=lambda f: re.sub(r"\W+", "-", f.name))
def test_fault(rig_factory, e2e, fault: Fault):
    day = fault.day or e2e.DAY
    ref = None
    if fault.identical:
        ref = reference(lambda **kw: _rig(rig_factory, **kw), "rotation", ROTATION, day=day, start_time=START)
    rig = _rig(rig_factory, day=day, start_time=START, name="faulted")
    s = lockstep_session(rig, "rotation", ROTATION, KillPlan(0), on_step=fault.on_step)
    out = outcome(f"fault: {fault.name}", s, ref)
    out.save()
    assert fault.fired(s), f"{fault.name}: the fault did not fire"
    assert out.duplicates == 0 and out.lost_fills == 0, str(out)
    assert out.journal_equals_broker and out.flat, str(out)
    assert len(out.orders) >= 2, str(out)
    if ref is not None:
        assert out.identical, (str(out), sorted(set(out.orders) ^ set(ref.orders)),
                               sorted(set(out.fills) ^ set(ref.fills)))  # fmt: skip


def test_every_fault_has_its_scenario():
    """The matrix's faults that earlier tests cover: each named test still exists."""
    for fault, node in EXISTING.items():
        path, name = node.split("::")
        assert re.search(rf"^def {name}\(", (ROOT / path).read_text(), re.M), f"{fault}: {node} is gone"

