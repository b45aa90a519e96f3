"""The engine when its bars stop coming: an alert, REST backfill, end of day on time anyway;
and a bridge restart mid-session that it rides through."""

from __future__ import annotations

from common.calendar import to_ms
from engine.order_ids import parse_client_order_id

ROTATION = ("ERX", "ERY", "FAS", "FAZ", "SDS", "SSO", "SQQQ", "SVXY", "TNA", "TQQQ", "TZA", "UVXY")


def test_without_a_bridge_it_alerts_takes_minutes_from_rest_and_flattens_on_time(rig_factory, e2e):
    rig = rig_factory(day=e2e.DAY, start_time="15:20", speed=240.0)
    rig.write_config("rotation", **e2e.ROTATION_HOLDS)
    engine = rig.start_engine("rotation", "--alert-after", "1", "--rest-fallback", "1")
    rig.wait_phase("trading", engine)
    assert len(rig.positions()) == 3  # entered on the first minute it decided (15:19)
    rig.clock(action="resume")
    assert engine.wait(120) == 0, engine.output()[-3000:]

    log = rig.trader_log()
    assert "ALERT feed_silent: no bars and no heartbeats from the bridge" in log
    events = rig.journal_rows("SELECT kind, detail FROM events")
    assert "feed_silent" in [e["kind"] for e in events]
    assert "taking closed minutes from REST" in log
    assert rig.positions() == {}
    eod_at, close = e2e.at(rig.day, "15:58"), rig.session.close_ms
    sells = [o for o in rig.broker_orders() if o.side == "sell"]
    assert len(sells) == 3
    for o in sells:
        assert o.status == "filled" and eod_at <= to_ms(o.filled_at) < close
        assert parse_client_order_id(o.client_order_id).t_ms >= eod_at - 60_000


def test_a_bridge_restart_mid_session_is_ridden_through(rig_factory, e2e):
    rig = rig_factory(day=e2e.DAY, start_time="15:00", speed=300.0)
    rig.write_config("rotation")
    bridge = rig.start_bridge(ROTATION)
    engine = rig.start_engine("rotation")
    rig.wait_phase("trading", engine)
    rig.clock(action="resume")
    rig.market.wait_until(e2e.at(rig.day, "15:15"), timeout=60)
    bridge.kill()  # SIGKILL: the engine's FIFO reader sees EOF
    rig.market.wait_until(e2e.at(rig.day, "15:25"), timeout=60)
    rig.start_bridge(ROTATION)
    assert engine.wait(120) == 0, engine.output()[-3000:]
    assert engine.p.returncode == 0

    state = rig.state()
    # every minute from 14:59 (decided at start-up) went through the engine once; it may
    # exit at the close before the 15:59 batch comes
    assert state["counters"]["minutes"] in (60, 61)
    # the bridge was away from 15:15 to 15:25 at least: the minutes it missed (at least
    # 15:15..15:23) came from REST, as bars (backfill), not as flat fills from last closes
    feed = state["feed"]
    assert feed["gaps"] >= 1 and feed["gap_filled_minutes"] == 0, feed
    assert feed["backfilled_minutes"] >= 9 and feed["by_source"].get("backfill") == feed["backfilled_minutes"], feed
    assert "gap-fill" not in feed["by_source"], feed
    log = rig.trader_log()
    assert "Traceback" not in log and "reopening and waiting for a writer" in log
    # it decided on both sides of the bridge's absence (how many minutes in all depends on how
    # far behind a loaded machine lets it fall at 300x: after a gap only the newest is decided)
    decided = [r["t_ms"] for r in rig.journal_rows("SELECT t_ms FROM decisions")]
    assert any(t < e2e.at(rig.day, "15:15") for t in decided), decided
    assert any(t >= e2e.at(rig.day, "15:25") for t in decided), decided
    assert rig.positions() == {}
    assert state["phase"] == "done"
