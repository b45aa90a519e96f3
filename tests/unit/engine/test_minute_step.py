"""The minute as a pure step: plain values in (the minute, its signals, a broker snapshot,
the journal's facts), a value out (what to send, cancel, record and log); no I/O."""

from __future__ import annotations

import logging

import pytest

from common.bars import Bar
from common.calendar import MINUTE_MS
from common.minute import Minute
from engine.broker_view import BrokerSnapshot, ViewPosition
from engine.decision import DecisionStep
from engine.eod import eod_time_ms
from engine.minute_step import JournalFacts, minute_step
from engine.strategies import Signal, make_strategy

PRICES = {"SPY": 500.0, "SPXL": 150.0, "SH": 40.0, "SDS": 20.0}
BULL = {"SPY": Signal(0.62, 0.3)}  # strong enough for BASE_BULL_3X (50% SPY + 50% SPXL)


def minute(t: int) -> Minute:
    return Minute(t, {s: Bar(s, t, p, p, p, p, 1000.0) for s, p in PRICES.items()}, "fifo")


@pytest.fixture
def setup(psm_cfg, full_day):
    cfg = psm_cfg()
    step = DecisionStep(make_strategy(cfg), cfg, full_day)
    return step, full_day, eod_time_ms(full_day, cfg.session)


def run(setup, t: int, broker: BrokerSnapshot, facts: JournalFacts = JournalFacts(), *,
        eod_done: bool = False, signals=BULL):  # fmt: skip
    step, _, eod_at = setup
    return minute_step(step, minute(t), signals, broker, facts, eod_at_ms=eod_at, eod_done=eod_done)


def test_orders_to_send_and_the_row_to_record(setup, at) -> None:
    _, day, _ = setup
    t = at(day, "10:00")
    out = run(setup, t, BrokerSnapshot({}, 100_000.0, 100_000.0))
    assert out.send is not None and not out.eod_flatten and out.cancels == ()
    assert sorted((o.symbol, o.side) for o in out.orders) == [("SPXL", "buy"), ("SPY", "buy")]
    assert all(o.client_order_id.startswith("it-psm-20251016-1000-") for o in out.orders)
    assert out.row.summary == "BASE_BULL_3X" and set(out.row.targets) >= {"SPY", "SPXL"}
    assert out.row.state["state"] == "BASE_BULL_3X"
    assert out.events == () and not out.halted and out.not_sent == 0
    assert any(line.message.startswith("psm 2025-10-16T10:00:00-04:00: BASE_BULL_3X (2 order(s))")
               for line in out.logs)  # fmt: skip


def test_holdings_and_pending_come_from_the_inputs(setup, at) -> None:
    _, day, _ = setup
    t = at(day, "10:00")
    first = run(setup, t, BrokerSnapshot({}, 100_000.0, 100_000.0))
    targets = first.result.plan.targets
    held = {s: ViewPosition(float(q), PRICES[s]) for s, q in targets.items() if q}
    cash = 100_000.0 - sum(p.qty * p.avg_entry for p in held.values())
    again = run(setup, t + MINUTE_MS, BrokerSnapshot(held, cash, 100_000.0))
    assert again.send is None and again.orders == ()  # held as targeted: nothing to do
    # the same targets with the buys still pending: nothing to send either
    pending = {s: float(q) for s, q in targets.items() if q}
    waiting = run(setup, t + 2 * MINUTE_MS, BrokerSnapshot({}, 100_000.0, 100_000.0),
                  JournalFacts(pending=pending))  # fmt: skip
    assert waiting.orders == ()


def test_used_ids_are_skipped_and_count_against_the_cap(setup, at) -> None:
    _, day, _ = setup
    t = at(day, "10:00")
    used = frozenset({"it-psm-20251016-1000-SPY-b-0"})
    out = run(setup, t, BrokerSnapshot({}, 100_000.0, 100_000.0), JournalFacts(used_ids=used))
    spy = next(o for o in out.orders if o.symbol == "SPY")
    assert spy.client_order_id == "it-psm-20251016-1000-SPY-b-1"


def test_the_daily_loss_limit_halts_with_an_event_and_a_flatten(setup, at) -> None:
    _, day, _ = setup
    held = {"SPY": ViewPosition(100.0, 600.0)}
    out = run(setup, at(day, "11:00"), BrokerSnapshot(held, 30_000.0, 100_000.0))  # equity 80k
    assert out.halted and out.events and out.events[0][0] == "halt"
    assert [(o.symbol, o.side, o.qty) for o in out.orders] == [("SPY", "sell", 100.0)]
    assert any(line.level == logging.ERROR and line.message.startswith("HALT: daily loss limit")
               for line in out.logs)  # fmt: skip
    later = run(setup, at(day, "11:01"), BrokerSnapshot({}, 80_000.0, 100_000.0),
                JournalFacts(halted=True))  # fmt: skip
    assert later.halted and later.events == () and later.orders == ()


def test_the_daily_loss_flatten_never_trades_outside_the_universe(setup, at) -> None:
    _, day, _ = setup
    held = {"SPY": ViewPosition(100.0, 600.0), "AAPL": ViewPosition(10.0, 200.0)}
    out = run(setup, at(day, "11:00"), BrokerSnapshot(held, 28_000.0, 100_000.0))  # equity 80k
    assert out.halted and [(o.symbol, o.side, o.qty) for o in out.orders] == [("SPY", "sell", 100.0)]


def test_at_the_eod_minute_the_flatten_replaces_the_orders(setup, at) -> None:
    _, day, _ = setup
    held = {"SPY": ViewPosition(10.0, 500.0)}
    out = run(setup, at(day, "15:57"), BrokerSnapshot(held, 95_000.0, 100_000.0))
    assert out.eod_flatten and out.send is None
    after = run(setup, at(day, "15:58"), BrokerSnapshot(held, 95_000.0, 100_000.0), eod_done=True)
    assert not after.eod_flatten  # done once; later minutes plan as usual (targets 0)


def test_orders_decided_at_the_close_are_not_sent(setup, at) -> None:
    _, day, _ = setup
    held = {"SPY": ViewPosition(10.0, 500.0)}
    out = run(setup, at(day, "15:59"), BrokerSnapshot(held, 95_000.0, 100_000.0), eod_done=True)
    assert out.send is None and out.not_sent == len(out.result.plan.orders) == 1
    assert any("is decided at the close: 1 order(s) not sent" in line.message for line in out.logs)
