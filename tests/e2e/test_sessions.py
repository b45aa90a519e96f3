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
    """Net positions from the journal's fills executed before the EOD minute."""
    net: dict[str, float] = {}
    for f in rig.journal_rows("SELECT symbol, side, qty FROM fills WHERE t_ms < ?", eod_at):
        net[f["symbol"]] = net.get(f["symbol"], 0.0) + (f["qty"] if f["side"] == "buy" else -f["qty"])
    return {s: q for s, q in net.items() if abs(q) > 1e-9}


def run_session(rig, e2e, strategy: str, symbols: tuple[str, ...], timeout: float) -> None:
    rig.start_bridge(symbols)
    engine = rig.start_engine(strategy)
    rig.wait_phase("trading", engine)
    rig.clock(action="resume")
    code = engine.wait(timeout)
    assert code == 0, engine.output()[-4000:]
    state = rig.state()
    assert state["phase"] == "done" and state["positions"] == {}
    assert "the account is flat: exiting" in rig.trader_log()


def assert_flat_at_eod(rig, e2e, eod_hhmm: str, *, holding: bool) -> None:
    """Flat after the close; orders from the EOD minute on are its sells (if anything was held)."""
    eod_at = e2e.at(rig.day, eod_hhmm)
    orders = rig.broker_orders()
    assert rig.positions() == {}
    late = [o for o in orders if to_ms(o.created_at) >= eod_at]
    assert bool(late) == holding and {o.side for o in late} <= {"sell"}
    for o in late:
        key = parse_client_order_id(o.client_order_id)
        assert key.t_ms == eod_at - 60_000 and o.status == "filled"
        assert eod_at <= to_ms(o.filled_at) < rig.session.close_ms, iso_ny(to_ms(o.filled_at))


@pytest.mark.slow
def test_a_full_rotation_session(rig_factory, e2e):
    rig = rig_factory(day=e2e.DAY, start_time="09:29", speed=900.0)
    rig.write_config("rotation")
    run_session(rig, e2e, "rotation", ROTATION, timeout=180)
    n_fills = assert_journal_equals_broker(rig, "rotation")
    assert n_fills >= 2
    assert_flat_at_eod(rig, e2e, "15:58", holding=bool(held_at_eod(rig, e2e.at(rig.day, "15:58"))))


def test_a_half_day_is_flattened_at_12_58(rig_factory, e2e):
    rig = rig_factory(day=e2e.HALF_DAY, start_time="12:20", speed=400.0)
    assert rig.session.is_half_day
    rig.write_config("rotation", **e2e.ROTATION_HOLDS)
    run_session(rig, e2e, "rotation", ROTATION, timeout=120)
    assert_journal_equals_broker(rig, "rotation")
    assert held_at_eod(rig, e2e.at(rig.day, "12:58")), "nothing was held at the end of day"
    assert_flat_at_eod(rig, e2e, "12:58", holding=True)
    buys = [o for o in rig.broker_orders() if o.side == "buy"]
    assert buys, "the engine entered nothing before the no-entry window"
    assert all(to_ms(o.created_at) < e2e.at(rig.day, "12:30") for o in buys)  # no entry in the last 30 min
