"""Starting in the middle of a session, and taking over after the launcher was killed."""

from __future__ import annotations

import json

from common.calendar import MINUTE_MS, ny_datetime, to_ms
from common.config import apply_params, default_config_json, original_config_json
from common.csvfiles import read_today, today_path
from engine.order_ids import parse_client_order_id
from tests.support.processes import poll

from .conftest import DAY, Home

ROTATION = ("ERX", "ERY", "FAS", "FAZ", "SDS", "SSO", "SQQQ", "SVXY", "TNA", "TQQQ", "TZA", "UVXY")
# enters as soon as signals are warm and holds to the close (tests/e2e/conftest.py ROTATION_HOLDS)
HOLDS = {
    "oes_config.buy_threshold": 0.5, "oes_config.sell_threshold": 0.06,
    "signal_aggregator_config.min_probability": 0.5, "signal_aggregator_config.min_confidence": 0.0,
    "signal_aggregator_config.min_strength": 0.0, "signal_aggregator_config.max_signal_age_bars": 390,
    "rotation_manager_config.min_strength_to_enter": 0.0,
    "rotation_manager_config.min_strength_to_exit": 0.0,
    "rotation_manager_config.rotation_strength_delta": 5.0,
    "rotation_manager_config.min_hold_bars": 390, "rotation_manager_config.profit_target": 1.0,
    "rotation_manager_config.stop_loss": 1.0, "rotation_manager_config.min_rank_to_hold": 12,
    "risk.daily_loss_limit_pct": 0.5,
}  # fmt: skip


def at(hhmm: str) -> int:
    return to_ms(ny_datetime(DAY, hhmm))


def test_a_market_started_at_1103_is_joined_with_todays_bars_and_no_gap(home: Home, market):
    m = market("11:03", speed=300.0, paused=True)
    home.write_config(default_config_json("rotation"))
    launcher = home.launch("--skip-optimize", "--download-sessions", "20")
    st = home.wait_trading(launcher)
    # today's bars 09:30..11:02, as the market has them: 93 for a liquid symbol
    first, last = at("09:30"), at("11:02")
    rest = m.rest.get_bars(list(ROTATION), ny_datetime(DAY, "09:30"), ny_datetime(DAY, "11:02"))
    for sym in ROTATION:
        got = read_today(today_path(home.data_dir / "tmp" / "todays_bars", sym))
        assert [b.t for b in got] == [b.t for b in rest[sym]], sym
        assert all(first <= b.t <= last for b in got)
    for sym in ("TQQQ", "SQQQ"):
        assert len(read_today(today_path(home.data_dir / "tmp" / "todays_bars", sym))) == 93
    # the warm-up covers all 93 minutes (from the files, and from REST after the earliest of
    # the symbols' last bars: a thin symbol's last minute may be 11:00); 11:02 was decided
    log = home.trader_log()
    assert "93 minute(s) of today (" in log and "deciding 2025-10-16T11:02:00-04:00 next" in log
    assert st["last_t_ms"] == last
    # trading goes on with the next minute, from the bridge, with no gap
    m.clock(action="resume")
    st = poll(lambda: (s := home.state()) and (s.get("last_t_ms") or 0) >= at("11:05") and s, 60,
              "the engine to trade 11:03..11:05")  # fmt: skip
    decided = [r["t_ms"] for r in home.journal("SELECT t_ms FROM decisions ORDER BY t_ms")]
    assert decided[:4] == [last, last + MINUTE_MS, last + 2 * MINUTE_MS, last + 3 * MINUTE_MS]
    assert st["feed"]["gaps"] == 0 and st["feed"]["backfilled_minutes"] == 0
    # a second launcher is refused, and the first carries on
    m.clock(action="pause")
    second = home.launch("--skip-optimize", "--download-sessions", "20")
    assert second.wait(60) == 2
    assert f"another launcher already runs mock mode in {home.dir} (pid {launcher.pid}" in second.output()
    assert launcher.alive() and home.record("engine").pid == st["pid"]
    # another shell sees it all...
    status = json.loads(home.run("status", "--mode", "mock", "--json", "--market-state", str(home.market_state)))
    procs = {p["name"]: p for p in status["processes"]}
    assert procs["launcher"]["pid"] == launcher.pid and procs["engine"]["pid"] == st["pid"]
    assert procs["bridge"]["running"] and procs["engine"]["rss_mb"] > 0 and procs["engine"]["uptime_s"] > 0
    assert status["clock"]["is_open"] and status["engine"]["phase"] == "trading"
    assert status["engine"]["last_t_ms"] >= at("11:05") and status["engine"]["lag_s"] >= 0
    assert {p["symbol"] for p in status["positions"]} == set(m.positions())
    assert status["pnl_today"] is not None and status["errors"] == []
    # ...and stops it cleanly
    assert "stopped the mock launcher" in home.run("stop", "--mode", "mock")
    assert launcher.wait(60) == 0
    assert home.ours() == [] and home.record("launcher") is None
    assert "(stopped by SIGTERM)" in launcher.output()


def test_sigkill_of_the_launcher_then_a_relaunch_takes_over_without_doubling(home: Home, market):
    m = market("14:59", speed=300.0, paused=True)
    # the ported tuning enters as soon as signals are warm (no cost gate to wait on)
    cfg = apply_params(original_config_json("rotation"), HOLDS, source="<test>", strategy="rotation")
    home.write_config(cfg)
    first = home.launch("--skip-optimize", "--download-sessions", "20")
    home.wait_trading(first)
    m.clock(action="resume")  # entries are allowed until 15:30
    poll(lambda: len(m.positions()) == 3, 60, "three positions to be entered")  # max_positions
    old = {name: home.record(name).pid for name in ("engine", "bridge")}
    held = m.positions()
    first.kill()  # SIGKILL: no chance to stop anything
    assert sorted(pid for pid, _ in home.ours()) == sorted(old.values())  # still running, orphaned
    second = home.launch("--skip-optimize", "--download-sessions", "20")
    poll(lambda: (r := home.record("engine")) and r.pid not in old.values(), 60, "a new engine")
    home.wait_trading(second)
    # the previous run's processes were stopped first: one bridge and one engine, the new ones
    running = home.ours()
    assert sorted(mod for _, mod in running) == ["bridge", "engine"]
    assert not {pid for pid, _ in running} & set(old.values())
    out = second.output()
    assert "stopping the previous run's engine" in out and "stopping the previous run's bridge" in out
    assert "Found 3 existing position(s):" in out
    for sym in held:
        assert f"  {sym}: LONG " in out
    # quickly through the afternoon, then at a pace that leaves the end of day two wall
    # seconds between 15:58 and the close however loaded the machine
    m.clock(action="set_speed", speed=900)
    poll(lambda: m.now_ms() >= at("15:50"), 60, "15:50")
    m.clock(action="set_speed", speed=60)
    code = second.wait(120)
    assert code == 0, second.output()[-3000:] + "\n" + home.trader_log()[-3000:]
    # flat at the close; every order sent once for its minute and symbol, held positions untouched
    assert m.positions() == {}
    orders = m.orders(DAY)
    keys = [(k.t_ms, k.symbol, k.side) for k in map(parse_client_order_id, (o.client_order_id for o in orders))]
    assert len(keys) == len(set(keys)), "an order was sent twice"
    buys = [o for o in orders if o.side == "buy"]
    assert {o.symbol for o in buys} == set(held) and len(buys) == len(held)
    assert "Session summary — rotation, 2025-10-16 (session over, flat)" in second.output()


def test_a_hand_held_long_and_short_are_taken_over_with_no_order_and_the_preview_shows_both(home: Home, market):
    """Issue 9: TQQQ long and SQQQ short held at start (and SPY, outside the rotation
    universe), default config and policy: the preview shows each position and what the
    strategy makes of it; the engine sends no order at start-up, keeps 100 TQQQ as it is
    (no resize to the equal weight), leaves the short alone until the end of day, then
    closes both; SPY is never traded and left after the close, which is not a failure."""
    m = market("15:40", speed=300.0, paused=True)  # no entries after 15:30: only EOD trades
    m.clock(action="step", seconds=1)
    for sym, qty, side in (("TQQQ", 100, "buy"), ("SQQQ", 50, "sell"), ("SPY", 10, "buy")):
        m.rest.submit_order(symbol=sym, qty=qty, side=side, client_order_id=f"by-hand-{sym}")
    assert m.positions() == {"TQQQ": 100, "SQQQ": -50, "SPY": 10}
    home.write_config(default_config_json("rotation"))
    launcher = home.launch("--skip-optimize", "--download-sessions", "20")
    st = home.wait_trading(launcher)

    out = launcher.output()
    assert "Found 3 existing position(s):" in out
    assert "  SQQQ: SHORT 50 shares @ $" in out and "  TQQQ: LONG 100 shares @ $" in out
    assert "  SPY: outside the rotation strategy's universe: left alone (never traded)" in out
    assert ("  SQQQ: the rotation strategy cannot manage it (a short position in a long-only strategy): "
            "policy adopt: kept as it is, never added to; closed by the strategy's exit rules or at end of day") in out
    assert "  the rotation strategy takes over ROTATION[TQQQ] as it is: no order" in out
    line = [x for x in home.trader_log().splitlines() if "Position reconciliation complete" in x][-1]
    assert "ROTATION[TQQQ]" in line and "action continue" in line and "to trade" not in line
    assert st["strategy_state"]["book"]["TQQQ"]["qty"] == 100
    assert set(st["strategy_state"]["kept"]) == {"SQQQ"} and st["strategy_state"]["kept"]["SQQQ"]["qty"] == -50
    assert st["last_t_ms"] == at("15:39")  # the start-up minute was decided...
    engine_orders = [o for o in m.orders(DAY) if o.client_order_id.startswith("it-")]
    assert engine_orders == [], "an order was sent at start-up"  # ...and sent nothing

    m.clock(action="set_speed", speed=900)
    m.clock(action="resume")
    code = launcher.wait(120)
    assert code == 0, launcher.output()[-3000:]
    assert m.positions() == {"SPY": 10}  # outside the universe: left as it was
    ours = [o for o in m.orders(DAY) if o.client_order_id.startswith("it-")]
    assert sorted((o.symbol, o.side, o.qty, o.status) for o in ours) == [
        ("SQQQ", "buy", 50.0, "filled"), ("TQQQ", "sell", 100.0, "filled")]  # fmt: skip
    reasons = {r["symbol"]: r["reason"] for r in home.journal("SELECT symbol, reason FROM orders")}
    for o in ours:  # closed by its exit rules or by the end of day (15:57's ids), never at start-up
        t = parse_client_order_id(o.client_order_id).t_ms
        assert at("15:39") < t <= at("15:57"), o.client_order_id
        assert reasons[o.symbol].startswith("exit: ") or reasons[o.symbol] == "end of day: flatten"
    log = home.trader_log()
    assert "positions outside the rotation universe are left as they are, by design: {'SPY': 10.0}" in log
    assert "the strategy's universe is flat (other positions left alone): exiting" in log
