"""engine.decision: the per-minute step shared by the live engine and the backtest."""

from __future__ import annotations

from datetime import date

import pytest

from common.bars import Bar
from common.calendar import ny_datetime, nyse, to_ms
from common.config import OesConfig, PsmStrategyConfig, RotationStrategyConfig, original_config
from common.minute import Minute
from engine.cost_estimates import unknown_liquidity_cost
from engine.decision import DecisionStep, flatten_plan
from engine.risk import RiskGuard
from engine.signals import SignalEngine
from engine.strategies import BrokerHoldings, Holding, Signal, make_strategy

DAY = date(2025, 10, 16)
HALF = date(2025, 11, 28)
PRICES = {"SPY": 500.0, "SPXL": 150.0, "SH": 25.0, "SDS": 15.0}


def at(day: date, hhmm: str) -> int:
    return to_ms(ny_datetime(day, hhmm))


def minute(t: int, prices: dict[str, float] = PRICES, filled: tuple[str, ...] = ()) -> Minute:
    return Minute(
        t,
        {
            s: Bar(s, t, p, p, p, p, 0.0 if s in filled else 100.0, filled=s in filled)
            for s, p in prices.items()
        },
        "history",
    )


def spy(p: float) -> dict[str, Signal]:
    return {"SPY": Signal(p, 0.5, 0.001, 0)}


def psm_step(day: date = DAY, cfg: PsmStrategyConfig | None = None) -> DecisionStep:
    cfg = cfg or original_config("psm")  # the ladder at 0.55 / 0.45, no cost gate
    return DecisionStep(make_strategy(cfg), cfg, nyse().session(day))


def test_equity_is_cash_plus_holdings_at_the_minutes_closes_and_the_plan_follows_the_targets():
    step = psm_step()
    t = at(DAY, "10:00")
    # SH's bar is a grid fill: its close (the last real close) still values the holding
    res = step.decide(
        minute(t, filled=("SH",)), spy(0.70), holdings={"SH": Holding(100, 20.0)}, cash=50_000.0
    )
    assert res.equity == res.minute.equity == 50_000.0 + 100 * 25.0
    assert res.decision.summary == "SPXL_ONLY"
    assert res.decision.targets == {"SPY": 0, "SPXL": int(0.95 * 52_500 // 150), "SH": 0, "SDS": 0}
    assert [(o.side, o.symbol, o.qty, o.client_order_id) for o in res.plan.orders] == [
        ("sell", "SH", 100.0, "it-psm-20251016-1000-SH-s-0"),
        ("buy", "SPXL", 332.0, "it-psm-20251016-1000-SPXL-b-0"),
    ]
    assert res.orders_allowed and not res.is_eod and not res.plan.halted


def test_used_ids_and_pending_orders_reach_the_plan():
    step = psm_step()
    t = at(DAY, "10:00")
    res = step.decide(
        minute(t),
        spy(0.70),
        holdings={},
        cash=100_000.0,
        pending={"SPXL": 100.0},
        used_ids={"it-psm-20251016-1000-SPXL-b-0"},
    )
    (order,) = res.plan.orders
    assert order.client_order_id == "it-psm-20251016-1000-SPXL-b-1"
    assert order.qty == res.decision.targets["SPXL"] - 100


@pytest.mark.parametrize(
    ("day", "last", "eod"), [(DAY, "15:59", "15:57"), (HALF, "12:59", "12:57")]
)
def test_the_calendar_decides_end_of_day_and_the_last_minute_sends_nothing(day, last, eod):
    step = psm_step(day)
    holdings = {"SPY": Holding(100, 480.0)}
    before = step.decide(minute(at(day, eod) - 60_000), spy(0.6), holdings=holdings, cash=50_000.0)
    assert not before.is_eod and before.orders_allowed
    res = step.decide(minute(at(day, eod)), spy(0.6), holdings=holdings, cash=50_000.0)
    assert res.is_eod and res.orders_allowed
    assert [(o.side, o.symbol, o.qty) for o in res.plan.orders] == [("sell", "SPY", 100.0)]
    # the engine's end-of-day flatten closes everything held, with the same ids
    flat = flatten_plan("psm", at(day, eod), {"SPY": 100.0, "QQQ": -5.0}, PRICES, step.guard)
    assert [(o.side, o.symbol, o.qty) for o in flat.orders] == [
        ("sell", "SPY", 100.0),
        ("buy", "QQQ", 5.0),
    ]
    assert flat.orders[0].client_order_id == res.plan.orders[0].client_order_id
    end = step.decide(minute(at(day, last)), spy(0.9), holdings={}, cash=100_000.0)
    assert not end.orders_allowed


@pytest.mark.parametrize(("day", "eod"), [(DAY, "15:57"), (HALF, "12:57")])
def test_the_strategy_s_own_end_of_day_covers_a_short_it_kept_aside(day, eod):
    """The decision at the EOD minute closes a short taken over (kept aside) as well as the
    long in the book, in one plan with the bar's ids: a buy to cover and a sell."""
    step = psm_step(day)
    step.strategy.take_over(
        BrokerHoldings(longs={"SPY": 100.0}, entry_prices={"SPY": 500.0, "SH": 25.0},
                       prices=PRICES, equity=100_000.0, t_ms=at(day, "10:00"), session_date=day,
                       kept={"SH": -40.0}),  # fmt: skip
        None,
    )
    holdings = {"SPY": Holding(100, 500.0), "SH": Holding(-40, 25.0)}
    # SPY_ONLY's band: the strategy holds, the short stays kept as it is until end of day
    before = step.decide(minute(at(day, eod) - 60_000), spy(0.55), holdings=holdings, cash=50_000.0)
    assert before.plan.orders == ()
    res = step.decide(minute(at(day, eod)), spy(0.55), holdings=holdings, cash=50_000.0)
    assert res.is_eod
    assert sorted((o.side, o.symbol, o.qty, o.reduces) for o in res.plan.orders) == [
        ("buy", "SH", 40.0, True),
        ("sell", "SPY", 100.0, True),
    ]


def test_the_daily_loss_limit_halts_and_a_halted_day_only_reduces():
    step = psm_step()
    t = at(DAY, "11:00")
    holdings = {"SPY": Holding(100, 500.0), "QQQ": Holding(10, 400.0)}
    res = step.decide(
        minute(t, {**PRICES, "QQQ": 400.0}),
        spy(0.56),
        holdings=holdings,
        cash=46_000.0 - 4_000.0,
        start_equity=100_000.0,
    )
    assert res.plan.halted and "daily loss limit" in (res.plan.halt_reason or "")
    # issue 9: QQQ, outside the universe, counts in the equity but is never traded
    assert sorted((o.side, o.symbol) for o in res.plan.orders) == [("sell", "SPY")]
    later = step.decide(minute(t + 60_000), spy(0.70), holdings={}, cash=95_000.0, halted=True)
    assert any(later.decision.targets.values())  # the strategy still wants its position
    assert later.plan.halted and later.plan.orders == ()


def test_signals_go_through_the_live_signal_engine():
    cfg = RotationStrategyConfig(
        symbols=("TQQQ", "SQQQ", "UVXY"),
        signal_aggregator_config={"leverage_boosts": {}},
        oes_config=OesConfig(warmup_samples=0),
    )
    session = nyse().session(DAY)
    step = DecisionStep(
        make_strategy(cfg), cfg, session, signal_engine=SignalEngine(cfg.symbols, cfg.oes_config)
    )
    twin = SignalEngine(cfg.symbols, cfg.oes_config)
    for i, t in enumerate(list(session.minutes())[:60]):
        m = minute(t, {"TQQQ": 50.0 + 0.1 * (i % 5), "SQQQ": 20.0 - 0.05 * (i % 3)})
        assert step.signals(m) == twin.update(m)
    with pytest.raises(RuntimeError, match="no SignalEngine"):
        psm_step().signals(minute(at(DAY, "10:00")))


def test_mismatched_parts_are_refused():
    cfg = PsmStrategyConfig()
    session = nyse().session(DAY)
    with pytest.raises(ValueError, match="differ from the config"):
        DecisionStep(make_strategy(RotationStrategyConfig()), cfg, session)
    with pytest.raises(ValueError, match="signal engine symbols"):
        DecisionStep(
            make_strategy(cfg), cfg, session, signal_engine=SignalEngine(["SPY"], cfg.oes_config)
        )
    step = DecisionStep(make_strategy(cfg), cfg, session, guard=RiskGuard(cfg.risk))
    with pytest.raises(ValueError, match="not a minute of the"):
        step.decide(minute(at(date(2025, 10, 17), "10:00")), spy(0.5), holdings={}, cash=1.0)


def test_the_sessions_cost_estimates_reach_the_strategy_and_a_missing_one_is_the_widest(caplog):
    cfg = PsmStrategyConfig()
    costs = {"SPY": 2.5e-4, "SPXL": 3.5e-4, "SH": 9e-4}
    step = DecisionStep(make_strategy(cfg), cfg, nyse().session(DAY), round_trip_costs=costs)
    with caplog.at_level("WARNING", logger="engine.decision"):
        res = step.decide(minute(at(DAY, "10:00")), spy(0.5), holdings={}, cash=100_000.0)
    got = res.minute.round_trip_costs
    assert {s: got[s] for s in costs} == costs
    # SDS had no estimate: priced at unknown liquidity (the widest spread), with a warning
    assert got["SDS"] == unknown_liquidity_cost(cfg.costs, PRICES["SDS"]) > 50e-4
    assert "SDS: no liquidity estimate" in caplog.text
    res = step.decide(minute(at(DAY, "10:01")), spy(0.5), holdings={}, cash=100_000.0)
    assert res.minute.round_trip_costs == got  # the same estimates all session
