"""Whole mock sessions on a free-running clock: the engine trades, journals every fill, ends
flat, and its journal equals the broker's record; on a half day it flattens at 12:58.

The full session of each strategy replayed in lockstep (test_backtest_equivalence.py) makes
the same checks; the rotation session here runs free at high speed, the way the launcher
runs a mock day, with no pause for the engine."""

from __future__ import annotations

import pytest

from common.calendar import iso_ny, to_ms
from engine.order_ids import parse_client_order_id

ROTATION = ("ERX", "ERY", "FAS", "FAZ", "SDS", "SSO", "SQQQ", "SVXY", "TNA", "TQQQ", "TZA", "UVXY")


def assert_journal_equals_broker(rig, strategy: str) -> int:
    """Every broker order is journaled with the same status, quantity and fills; returns fills."""
    orders = rig.broker_orders()
    assert orders, "no order was sent"
    journaled = {r["client_order_id"]: r for r in rig.journal_rows(
        "SELECT * FROM orders WHERE strategy=? AND session_date=?", strategy, rig.day.isoformat())}  # fmt: skip
    fills = rig.journal_rows("SELECT * FROM fills WHERE strategy=? AND session_date=?", strategy,
                             rig.day.isoformat())  # fmt: skip
    by_order: dict[str, list] = {}
    for f in fills:
        by_order.setdefault(f["client_order_id"], []).append(f)
    for o in orders:
        assert parse_client_order_id(o.client_order_id) is not None, o.client_order_id
        r = journaled.get(o.client_order_id)
        assert r is not None, f"{o.client_order_id} is at the broker but not in the journal"
        assert r["status"] == o.status and r["broker_order_id"] == o.id
        assert (r["symbol"], r["side"], r["qty"]) == (o.symbol, o.side, o.qty)
        got = by_order.get(o.client_order_id, [])
        assert sum(f["qty"] for f in got) == pytest.approx(o.filled_qty)
        if o.filled_qty:
            avg = sum(f["qty"] * f["price"] for f in got) / o.filled_qty
            assert avg == pytest.approx(o.filled_avg_price, rel=1e-9)
    at_broker = {o.client_order_id for o in orders}
    for cid, r in journaled.items():
        assert cid in at_broker or r["status"] == "lost", f"journal has {cid} ({r['status']})"
    return len(fills)


def held_at_eod(rig, eod_at: int) -> dict[str, float]:
    """Net positions going into the EOD minute by the broker's own record (its orders filled
    before it), not by the engine's journal: the expectation does not come from the engine."""
    net: dict[str, float] = {}
    for o in rig.broker_orders():
        if o.filled_qty and o.filled_at is not None and to_ms(o.filled_at) < eod_at:
            net[o.symbol] = net.get(o.symbol, 0.0) + (o.filled_qty if o.side == "buy" else -o.filled_qty)
    return {s: q for s, q in net.items() if abs(q) > 1e-9}


def run_session(rig, e2e, strategy: str, symbols: tuple[str, ...], timeout: float,
                slow_from: str | None = None) -> None:
    """The whole session; from ``slow_from`` (HH:MM) at 60x, so that the end of day's orders
    reach the broker before the close however loaded the machine."""
    rig.start_bridge(symbols)
    engine = rig.start_engine(strategy)
    rig.wait_phase("trading", engine)
    rig.clock(action="resume")
    if slow_from is not None:
        rig.market.wait_until(e2e.at(rig.day, slow_from), timeout=timeout)
        rig.clock(action="set_speed", speed=60.0)
    code = engine.wait(timeout)
    assert code == 0, engine.output()[-4000:]
    state = rig.state()
    assert state["phase"] == "done" and state["positions"] == {}
    assert "the account is flat: exiting" in rig.trader_log()


def assert_flat_at_eod(rig, e2e, eod_hhmm: str, held: dict[str, float]) -> None:
    """Flat after the close; the orders from the EOD minute on are exactly the closing orders
    of ``held`` (a sell for a long, a buy for a short, the whole quantity), with the EOD
    bar's ids, filled between the EOD minute and the close."""
    eod_at = e2e.at(rig.day, eod_hhmm)
    orders = rig.broker_orders()
    assert rig.positions() == {}
    late = [o for o in orders if to_ms(o.created_at) >= eod_at]
    closing = sorted(("sell" if q > 0 else "buy", s, abs(q)) for s, q in held.items())
    assert sorted((o.side, o.symbol, o.qty) for o in late) == closing
    for o in late:
        key = parse_client_order_id(o.client_order_id)
        assert key.t_ms == eod_at - 60_000 and o.status == "filled"
        assert eod_at <= to_ms(o.filled_at) < rig.session.close_ms, iso_ny(to_ms(o.filled_at))


@pytest.mark.slow
def test_a_full_rotation_session(rig_factory, e2e):
    rig = rig_factory(day=e2e.DAY, start_time="09:29", speed=900.0)
    # a rotation that enters once its signals are warm and holds to the close: the end of
    # day must flatten its max_positions longs (with the default config this seeded day
    # ends flat before 15:58, and an expectation read off the run was satisfied by nothing)
    rig.write_config("rotation", **e2e.ROTATION_HOLDS)
    run_session(rig, e2e, "rotation", ROTATION, timeout=180, slow_from="15:50")
    n_fills = assert_journal_equals_broker(rig, "rotation")
    assert n_fills >= 2
    held = held_at_eod(rig, e2e.at(rig.day, "15:58"))
    assert len(held) == 3 and all(q > 0 for q in held.values()), held
    assert_flat_at_eod(rig, e2e, "15:58", held)


def test_a_half_day_is_flattened_at_12_58(rig_factory, e2e):
    rig = rig_factory(day=e2e.HALF_DAY, start_time="12:20", speed=400.0)
    assert rig.session.is_half_day
    rig.write_config("rotation", **e2e.ROTATION_HOLDS)
    run_session(rig, e2e, "rotation", ROTATION, timeout=120)
    assert_journal_equals_broker(rig, "rotation")
    held = held_at_eod(rig, e2e.at(rig.day, "12:58"))
    assert held, "nothing was held at the end of day"
    assert_flat_at_eod(rig, e2e, "12:58", held)
    buys = [o for o in rig.broker_orders() if o.side == "buy"]
    assert buys, "the engine entered nothing before the no-entry window"
    assert all(to_ms(o.created_at) < e2e.at(rig.day, "12:30") for o in buys)  # no entry in the last 30 min
