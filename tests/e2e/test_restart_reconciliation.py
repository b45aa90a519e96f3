"""Relaunches on a real mock market: the engine takes over what it (or someone) holds.

- rotation, killed (SIGKILL) at 14:30 holding three positions and relaunched at 14:45:
  reconciles all three (journal restored), doubles none, flattens at 15:58;
- PSM relaunched while holding SPY + SPXL bought beforehand over REST with the
  BASE_BULL_3X allocation: continues in BASE_BULL_3X without an order for what it holds.

The market clock is paused while an engine starts, so "holding three positions at
14:30" and "relaunched at 14:45" are exact simulated instants.
"""

from __future__ import annotations

from common.calendar import from_ms, iso_ny, to_ms
from common.config import PsmStrategyConfig
from engine.order_ids import parse_client_order_id
from engine.strategies.sizing import trading_capital, whole_shares

ROTATION = ("ERX", "ERY", "FAS", "FAZ", "SDS", "SSO", "SQQQ", "SVXY", "TNA", "TQQQ", "TZA", "UVXY")
PSM = ("SPY", "SPXL", "SH", "SDS")


def _eod_sells_ok(rig, e2e, orders, symbols) -> None:
    eod_at = e2e.at(rig.day, "15:58") if not rig.session.is_half_day else e2e.at(rig.day, "12:58")
    sells = [o for o in orders if o.side == "sell"]
    assert sorted(o.symbol for o in sells) == sorted(symbols)
    for o in sells:
        assert o.status == "filled", o
        key = parse_client_order_id(o.client_order_id)
        assert key is not None and key.t_ms == eod_at - 60_000, o.client_order_id
        assert eod_at <= to_ms(o.filled_at) < rig.session.close_ms, iso_ny(to_ms(o.filled_at))


def test_rotation_killed_holding_three_positions_relaunches_without_doubling(rig_factory, e2e):
    rig = rig_factory(day=e2e.DAY, start_time="14:20", speed=300.0)
    rig.write_config("rotation", **e2e.ROTATION_HOLDS)
    rig.start_bridge(ROTATION)
    first = rig.start_engine("rotation")
    rig.wait_phase("trading", first)
    rig.clock(action="resume")
    e2e.poll(lambda: len(rig.positions()) == 3, 60, "three rotation positions")
    rig.market.wait_until(e2e.at(rig.day, "14:30"), timeout=60)
    rig.clock(action="pause")
    held = rig.positions()
    assert len(held) == 3 and all(q > 0 for q in held.values())
    first.kill()
    before = rig.broker_orders()
    assert sorted(o.symbol for o in before) == sorted(held) and {o.side for o in before} == {"buy"}

    # the market goes on to 14:45 while no engine runs (the bridge keeps writing)
    rig.clock(action="set_time", time=from_ms(e2e.at(rig.day, "14:45")).isoformat())
    second = rig.start_engine("rotation")
    state = rig.wait_phase("trading", second)
    log = rig.trader_log()
    lines = [x for x in log.splitlines() if "Position reconciliation complete" in x]
    assert len(lines) == 2  # one per run; the relaunch's is the last
    last_line = lines[-1]
    assert f"ROTATION[{','.join(sorted(held))}]" in last_line
    assert "journal restored" in last_line and "action continue" in last_line
    assert state["positions"] == held
    assert sorted(state["strategy_state"]["book"]) == sorted(held)

    rig.clock(action="set_speed", speed=600)
    rig.clock(action="resume")
    assert second.wait(120) == 0, second.output()[-3000:]
    orders = rig.broker_orders()
    buys = [o for o in orders if o.side == "buy"]
    assert sorted(o.symbol for o in buys) == sorted(held), "a position was doubled"
    _eod_sells_ok(rig, e2e, orders, held)
    assert rig.positions() == {}
    c = rig.counters()
    assert c["orders_submitted"] == 6 and c["duplicates_rejected"] == 0


def test_psm_relaunched_holding_spy_and_spxl_continues_in_base_bull_3x(rig_factory, e2e):
    rig = rig_factory(day=e2e.DAY, start_time="14:59", speed=300.0)
    cfg_data = rig.write_config("psm", psm_config__min_hold_bars=390, psm_config__profit_target=1.0,
                                psm_config__stop_loss=1.0, risk__daily_loss_limit_pct=0.5)  # fmt: skip
    cfg = PsmStrategyConfig.model_validate_json(cfg_data.read_text())
    # an earlier run's holdings: BASE_BULL_3X, sized from equity, bought over REST
    equity = rig.rest.get_account().equity
    latest = rig.rest.get_latest_bars(["SPY", "SPXL"])
    capital = trading_capital(equity, cfg.risk)
    wanted = {s: whole_shares(capital * 0.5, latest[s].close) for s in ("SPY", "SPXL")}
    rig.clock(action="step", seconds=1)
    for sym, qty in wanted.items():
        rig.rest.submit_order(symbol=sym, qty=qty, side="buy", client_order_id=f"earlier-run-{sym}")
    assert rig.positions() == wanted

    rig.start_bridge(PSM)
    engine = rig.start_engine("psm")
    state = rig.wait_phase("trading", engine)
    line = [x for x in rig.trader_log().splitlines() if "Position reconciliation complete" in x][-1]
    assert "BASE_BULL_3X" in line and "action continue" in line and "rebalance" not in line
    assert state["strategy_state"]["state"] == "BASE_BULL_3X"
    assert state["strategy_state"]["targets"] == {"SPY": wanted["SPY"], "SPXL": wanted["SPXL"],
                                                  "SH": 0, "SDS": 0}  # fmt: skip

    rig.clock(action="resume")
    rig.market.wait_until(e2e.at(rig.day, "15:50"), timeout=60)
    e2e.poll(lambda: (rig.state() or {}).get("last_t_ms", 0) >= e2e.at(rig.day, "15:48"), 30,
             "the engine at 15:48")  # fmt: skip
    assert rig.counters()["orders_submitted"] == 2, "the engine sent an order for what it holds"
    decided = rig.journal_rows("SELECT summary FROM decisions WHERE strategy='psm'")
    assert decided and {r["summary"] for r in decided} == {"BASE_BULL_3X"}

    assert engine.wait(120) == 0, engine.output()[-3000:]
    orders = [o for o in rig.broker_orders() if o.client_order_id.startswith("it-")]
    _eod_sells_ok(rig, e2e, orders, wanted)
    assert sorted((o.symbol, o.qty) for o in orders) == sorted(
        (s, float(q)) for s, q in wanted.items()
    )
    assert rig.positions() == {}
