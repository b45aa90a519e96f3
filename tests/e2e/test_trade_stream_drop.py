"""The trade-updates stream dropped mid-session (real mockmarket, bridge and engine processes):
while it is down the engine learns its fills by polling, it comes back by itself (a log line,
a counter, a resync), no fill is counted twice, and the day ends flat."""

from __future__ import annotations

import pytest

ROTATION = ("ERX", "ERY", "FAS", "FAZ", "SDS", "SSO", "SQQQ", "SVXY", "TNA", "TQQQ", "TZA", "UVXY")


def test_fills_arrive_by_polling_while_the_stream_is_down_and_none_twice(rig_factory, e2e):
    # every fill partial: each order fills over many minutes, so fills keep coming after the
    # responses — through the outage and after it
    rig = rig_factory(day=e2e.DAY, start_time="14:59", speed=300.0, extra_args=("--partial-fill-rate", "1"))
    rig.write_config("rotation", **e2e.ROTATION_HOLDS)
    rig.start_bridge(ROTATION)
    engine = rig.start_engine("rotation")
    rig.wait_phase("trading", engine)
    e2e.poll(lambda: rig.counters()["trade_connections_open"] == 1, 30, "the engine listening")
    bought = [o for o in rig.broker_orders() if o.side == "buy"]
    assert len(bought) == 3 and not any(o.status == "filled" for o in bought)  # more fills to come

    rig.market.admin("POST", "/admin/faults", json={"drop_trade_streams": True,
                                                    "trade_stream_refuse_seconds": 600})  # fmt: skip
    rig.clock(action="resume")  # ten simulated minutes of refused reconnects: 2 s of wall time
    e2e.poll(lambda: rig.counters()["trade_handshakes_refused"] >= 1, 30, "a refused reconnect")
    e2e.poll(lambda: (rig.state() or {}).get("counters", {}).get("stream_resumes", 0) >= 1, 60,
             "the stream resumed")  # fmt: skip
    events_at_resume = rig.state()["counters"]["stream_events"]
    assert engine.wait(120) == 0, engine.output()[-4000:]

    log = rig.trader_log()
    assert "trade-updates stream down" in log and "trade-updates stream resumed after" in log
    state = rig.state()
    assert state["counters"]["stream_drops"] >= 1 and state["counters"]["stream_resumes"] >= 1
    assert state["trade_stream"] == "up" and state["phase"] == "done" and state["positions"] == {}
    assert state["counters"]["stream_events"] > events_at_resume  # the EOD orders' events came by it
    kinds = [r["kind"] for r in rig.journal_rows("SELECT kind FROM events")]
    assert "trade_stream_down" in kinds and "trade_stream_resumed" in kinds

    # no fill counted twice: per order, the journal's fills add up to the broker's record
    orders = rig.broker_orders()
    fills = rig.journal_rows("SELECT * FROM fills")
    journaled = {r["client_order_id"]: r for r in rig.journal_rows("SELECT * FROM orders")}
    assert {o.client_order_id for o in orders} == set(journaled)
    for o in orders:
        got = [f for f in fills if f["client_order_id"] == o.client_order_id]
        assert sum(f["qty"] for f in got) == pytest.approx(o.filled_qty), o.client_order_id
        avg = sum(f["qty"] * f["price"] for f in got) / o.filled_qty  # the broker rounds to 1/10000
        assert avg == pytest.approx(o.filled_avg_price, abs=5e-5), o.client_order_id
        assert journaled[o.client_order_id]["status"] == o.status == "filled"
    assert len({f["execution_id"] for f in fills}) == len(fills)
    eod_at = e2e.at(rig.day, "15:58")  # before it, only the fallback (and the resync) poll
    polled = [f for f in fills if f["source"] == "poll" and f["t_ms"] < eod_at]
    assert polled, "no fill was learned by polling while the stream was down"
    assert state["counters"]["polls"] >= 2
    assert rig.positions() == {}
    c = rig.counters()
    assert c["trade_connections_dropped"] == 1 and c["trade_connections_total"] >= 2
