"""After every minute the engine's position book must equal the broker's; a trade it did not
make is logged, journaled, and the broker's book taken — then the strategy's targets rule."""

from __future__ import annotations

ROTATION = ("ERX", "ERY", "FAS", "FAZ", "SDS", "SSO", "SQQQ", "SVXY", "TNA", "TQQQ", "TZA", "UVXY")


def test_a_hand_placed_trade_is_seen_repaired_and_undone(rig_factory, e2e):
    rig = rig_factory(day=e2e.DAY, start_time="14:00", speed=120.0)
    rig.write_config("rotation", **e2e.ROTATION_HOLDS)
    rig.start_bridge(ROTATION)
    engine = rig.start_engine("rotation")
    state = rig.wait_phase("trading", engine)
    held = dict(state["positions"])
    assert len(held) == 3
    other = next(s for s in ROTATION if s not in held)
    first = sorted(held)[0]
    rig.clock(action="step", seconds=1)
    rig.rest.submit_order(symbol=other, qty=7, side="buy", client_order_id="by-hand-1")
    rig.rest.submit_order(symbol=first, qty=5, side="buy", client_order_id="by-hand-2")
    rig.clock(action="resume")

    def repaired():
        return "book_mismatch" in [e["kind"] for e in rig.journal_rows("SELECT kind FROM events")]

    e2e.poll(repaired, 60, "a book_mismatch event")
    e2e.poll(lambda: rig.positions() == held, 60, "the strategy's own book again")
    rig.clock(action="pause")
    log = rig.trader_log()
    assert "position book differs from the broker" in log
    sells = {o.symbol: o.qty for o in rig.broker_orders()
             if o.side == "sell" and o.client_order_id.startswith("it-")}  # fmt: skip
    assert sells == {other: 7.0, first: 5.0}
    state = rig.state()
    assert state["positions"] == held
    engine.terminate()
