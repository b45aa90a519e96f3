"""The compiled decision-and-fill loop gives the reference backtest's orders, fills, daily
returns and round trips exactly, and says so when it hands a run to the reference."""

from __future__ import annotations

import logging
from datetime import date
from functools import lru_cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.config import (
    PSM_SYMBOLS,
    PsmStrategyConfig,
    RotationStrategyConfig,
    StrategyConfig,
    default_config_json,
    original_config_json,
)
from engine.backtest import simulate
from engine.market_grid import MinuteGrid, build_grid
from engine.signals import BatchSignals, batch_signals
from engine.sim_liquidity import backtest_liquidity
from engine.strategies.psm_ladder import Ladder
from ledger.costs import CostModel
from mockmarket.synthetic import SyntheticConfig, generate_market, market_sessions
from optimize import compiled_simulator
from optimize.compiled_simulator import COMPILED, CompiledSimulator, Recorded, unsupported_reason
from optimize.simulator import REFERENCE

SYMBOLS = ("TQQQ", "SQQQ", "TNA", "TZA")
HALF_DAY_END = date(2025, 11, 28)  # the day after Thanksgiving closes at 13:00
SESSIONS = 6
WARMUP = 2


@lru_cache(maxsize=32)
def market(seed: int, signal: float, thin: bool = False, symbols: tuple[str, ...] = SYMBOLS) -> MinuteGrid:
    """A small synthetic market ending with a half day (cached: examples share it);
    ``thin``: few trades, so orders rest in minutes without a bar (pending, cancels)."""
    sc = SyntheticConfig(seed=seed, sessions=SESSIONS, end_date=HALF_DAY_END,
                         signal_strength=signal, symbols=symbols,
                         liquidity_scale=0.03 if thin else 1.0)  # fmt: skip
    return build_grid(symbols, market_sessions(sc), generate_market(sc))


def config(original: bool, params: dict[str, dict[str, Any]]) -> RotationStrategyConfig:
    data = original_config_json("rotation") if original else default_config_json("rotation")
    data["symbols"] = list(SYMBOLS)
    boosts = data["signal_aggregator_config"]["leverage_boosts"]
    data["signal_aggregator_config"]["leverage_boosts"] = {s: boosts[s] for s in SYMBOLS}
    for section, knobs in params.items():
        data[section].update(knobs)
    return RotationStrategyConfig.model_validate(data)


def psm_config(original: bool, params: dict[str, dict[str, Any]]) -> PsmStrategyConfig:
    data = original_config_json("psm") if original else default_config_json("psm")
    for section, knobs in params.items():
        data[section].update(knobs)
    return PsmStrategyConfig.model_validate(data)


def both(cfg: StrategyConfig, grid: MinuteGrid, simulator: CompiledSimulator = COMPILED,
         signals: BatchSignals | None = None):  # fmt: skip
    """(reference BacktestResult, compiled days, compiled records) of the scored sessions."""
    signals = batch_signals(grid, cfg.oes_config) if signals is None else signals
    ks = list(range(WARMUP, len(grid.sessions)))
    costs = CostModel.from_config(cfg.costs)
    liquidity = backtest_liquidity(grid, ks, costs.liquidity_sessions)
    ref = simulate(cfg, grid, signals, ks, liquidity=liquidity, costs=costs, diagnostics=False)
    days, rec = simulator.run(cfg, grid, signals, ks, liquidity=liquidity, costs=costs, record=True)
    return ref, list(days), rec


def assert_same(ref, days, rec: Recorded | None) -> None:
    assert rec is not None and rec.fallback is None
    assert [(o.t_ms, o.symbol, o.side, o.qty) for o in ref.orders] == rec.orders
    assert [
        (f.symbol, f.side, f.qty, f.price, f.fee, f.t_ms, f.decided_t_ms, f.cash_delta,
         f.position_after)
        for f in ref.fills
    ] == rec.fills  # fmt: skip
    assert [
        (d.session_date, d.start_equity, d.end_equity, d.return_pct, d.trades, d.orders, d.fills,
         d.halted, d.unsent, d.canceled)
        for d in ref.days
    ] == [
        (d.session_date, d.start_equity, d.end_equity, d.return_pct, d.trades, d.orders, d.fills,
         d.halted, d.unsent, d.canceled)
        for d in days
    ]  # fmt: skip


def prices(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


@st.composite
def shared(draw: st.DrawFn, buy_low: float = 0.50) -> dict[str, dict[str, Any]]:
    """A phase-1/phase-2 parameter set (optimize.spaces) and the knobs both strategies read."""
    buy = draw(prices(buy_low, 0.65))
    w1, w5 = draw(prices(0.10, 0.45)), draw(prices(0.20, 0.45))
    oes = {
        "buy_threshold": buy,
        "sell_threshold": draw(prices(0.35, min(0.50, buy - 0.01))),
        "ewrls_lambda": draw(prices(0.985, 0.999)),
        "bb_amplification": draw(prices(0.0, 0.20)),
        "horizon_weights": [w1, w5, 1.0 - w1 - w5],
        "regularization": draw(prices(0.0, 0.10)),
        "entry_cost_margin": draw(st.none() | prices(0.0, 3.0)),
    }
    risk = {
        "daily_loss_limit_pct": draw(prices(0.002, 0.05)),
        "max_position_pct": draw(prices(0.1, 1.0)),
        "max_orders_per_minute": draw(st.integers(1, 5)),
        "capital_fraction": draw(prices(0.5, 1.0)),
        "allocated_capital": draw(st.none() | prices(20_000.0, 200_000.0)),
    }
    eod = draw(st.integers(1, 5))
    session = {"eod_minutes_before_close": eod,
               "no_entry_minutes_before_close": draw(st.integers(eod, 60))}  # fmt: skip
    costs = {"slippage_bps": draw(prices(0.0, 5.0)),
             "fee_per_share": draw(st.sampled_from([0.0, 0.005, 0.0035]))}  # fmt: skip
    backtest = {"starting_cash": draw(prices(10_000.0, 1_000_000.0))}
    return {"oes_config": oes, "risk": risk, "session": session, "costs": costs,
            "backtest": backtest}  # fmt: skip


@st.composite
def params(draw: st.DrawFn) -> dict[str, dict[str, Any]]:
    """Rotation: :func:`shared` and rotation's own knobs."""
    out = draw(shared())
    n = draw(st.integers(1, len(SYMBOLS)))
    enter = draw(prices(0.0, 0.05))
    mgr = {
        "max_positions": n,
        "min_rank_to_hold": draw(st.integers(n, len(SYMBOLS) + 1)),
        "min_strength_to_enter": enter,
        "min_strength_to_exit": draw(prices(0.0, enter)),
        "rotation_strength_delta": draw(prices(0.0, 0.2)),
        "min_hold_bars": draw(st.integers(0, 10)),
        "profit_target": draw(prices(0.001, 0.05)),
        "stop_loss": draw(prices(0.001, 0.03)),
        "cooldown_bars": draw(st.integers(0, 10)),
        "eod_liquidation": draw(st.booleans()),
        "eod_exit_time_minutes": draw(st.integers(150, 389)),
    }
    agg = {
        "min_probability": draw(prices(0.5, 0.6)),
        "min_confidence": draw(prices(0.0, 0.5)),
        "min_strength": draw(prices(0.0, 0.02)),
        "smoothing_alpha": draw(prices(0.05, 1.0)),
        "max_signal_age_bars": draw(st.integers(0, 30)),
    }
    return {**out, "rotation_manager_config": mgr, "signal_aggregator_config": agg}


@st.composite
def psm_params(draw: st.DrawFn) -> dict[str, dict[str, Any]]:
    """PSM: :func:`shared` and the ladder, hold and exits."""
    out = draw(shared(buy_low=0.51))
    o1 = draw(prices(0.002, 0.1))
    psm = {
        "ladder_offsets": [o1, draw(prices(o1 + 0.001, 0.2))],
        "min_hold_bars": draw(st.integers(0, 10)),
        "profit_target": draw(prices(0.001, 0.05)),
        "stop_loss": draw(prices(0.001, 0.03)),
    }
    return {**out, "psm_config": psm}


@settings(max_examples=24, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 3),
    signal=st.sampled_from([0.0, 0.25]),
    thin=st.booleans(),
    original=st.booleans(),
    knobs=params(),
)
def test_compiled_loop_equals_the_reference_backtest(seed, signal, thin, original, knobs):
    ref, days, rec = both(config(original, knobs), market(seed, signal, thin))
    assert_same(ref, days, rec)


@pytest.mark.parametrize("original", [False, True])
@pytest.mark.parametrize("signal", [0.0, 0.25])
def test_the_shipped_tunings_trade_the_same(original, signal):
    ref, days, rec = both(config(original, {}), market(1, signal))
    assert_same(ref, days, rec)
    assert ref.days[-1].minutes == 210  # the half day is scored


def test_a_daily_loss_halt_is_the_same():
    ref, days, rec = both(config(True, {"risk": {"daily_loss_limit_pct": 0.002}}), market(2, 0.25))
    assert any(d.halted for d in ref.days), "the example must halt"
    assert any(o.reason.startswith("daily loss limit") for o in ref.orders)
    assert_same(ref, days, rec)


def test_stop_loss_and_profit_target_exits_are_the_same():
    knobs = {"rotation_manager_config": {"stop_loss": 0.001, "profit_target": 0.001,
                                         "min_hold_bars": 30}}  # fmt: skip
    ref, days, rec = both(config(True, knobs), market(0, 0.25))
    why = {o.reason.split(" ")[1] + " " + o.reason.split(" ")[2] for o in ref.orders
           if o.reason.startswith("exit:")}  # fmt: skip
    assert {"stop loss", "profit target"} <= why
    assert_same(ref, days, rec)


def test_resting_orders_cancels_and_the_order_cap_are_the_same():
    knobs = {"risk": {"max_orders_per_minute": 1},
             "rotation_manager_config": {"min_hold_bars": 0, "cooldown_bars": 0}}  # fmt: skip
    ref, days, rec = both(config(True, knobs), market(3, 0.25, thin=True))
    assert sum(d.canceled for d in ref.days) > 0, "the example must cancel resting orders"
    assert any(f.t_ms > f.decided_t_ms + 60_000 for f in ref.fills), "and fill some later"
    assert_same(ref, days, rec)


@settings(max_examples=20, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 3),
    signal=st.sampled_from([0.0, 0.25]),
    thin=st.booleans(),
    original=st.booleans(),
    knobs=psm_params(),
)
def test_compiled_psm_equals_the_reference_backtest(seed, signal, thin, original, knobs):
    ref, days, rec = both(psm_config(original, knobs), market(seed, signal, thin, PSM_SYMBOLS))
    assert_same(ref, days, rec)


@pytest.mark.parametrize("original", [False, True])
@pytest.mark.parametrize("thin", [False, True])
def test_psm_shipped_tunings_trade_the_same(original, thin):
    ref, days, rec = both(psm_config(original, {}), market(2, 0.25, thin, PSM_SYMBOLS))
    assert_same(ref, days, rec)
    if original:
        assert sum(d.trades for d in ref.days) > len(ref.days)


def test_psm_halts_and_exits_are_the_same():
    knobs = {"risk": {"daily_loss_limit_pct": 0.003},
             "psm_config": {"profit_target": 0.002, "stop_loss": 0.002}}  # fmt: skip
    ref, days, rec = both(psm_config(True, knobs), market(1, 0.25, False, PSM_SYMBOLS))
    assert any(d.halted for d in ref.days)
    why = " ".join(o.reason for o in ref.orders)
    assert "profit target" in why and "stop loss" in why
    assert_same(ref, days, rec)


DECIMAL_CASE = {
    "oes_config": {"buy_threshold": 0.5547782599746404, "sell_threshold": 0.48894096328968334,
                   "ewrls_lambda": 0.9903711407288527, "bb_amplification": 0.0,
                   "horizon_weights": [0.32841006144689644, 0.4180158278986411, 0.25357411065446245],
                   "regularization": 0.05, "entry_cost_margin": None},
    "risk": {"daily_loss_limit_pct": 0.02884725410852687, "max_position_pct": 0.877201077667119,
             "max_orders_per_minute": 5, "capital_fraction": 0.7465080524785326},
    "session": {"eod_minutes_before_close": 1, "no_entry_minutes_before_close": 8},
    "costs": {"fee_per_share": 0.005},
    "backtest": {"starting_cash": 876093.1507118994},
    "psm_config": {"ladder_offsets": [0.005, 0.12771838757969753], "min_hold_bars": 5,
                   "profit_target": 0.031911061165711484, "stop_loss": 0.008},
}  # fmt: skip
"""A PSM run (found by the property test) whose state changes cut a position bought at two
prices: its cost ``pos.cost * q1 / q0`` is no whole $0.0001 (the ledger's Decimal path)."""


def test_a_partial_reduction_with_an_inexact_cost_is_the_ledgers():
    ref, days, rec = both(psm_config(False, DECIMAL_CASE), market(3, 0.25, False, PSM_SYMBOLS))
    assert rec is not None and rec.decimal_reductions > 0
    assert_same(ref, days, rec)


def with_signals(signals: BatchSignals, edit) -> BatchSignals:
    """``signals`` with its arrays copied and changed by ``edit(prob, conf, rhat, age)``."""
    arrays = [a.copy() for a in (signals.prob, signals.confidence, signals.rhat, signals.age)]
    edit(*arrays)
    return BatchSignals(signals.symbols, signals.t_ms, *arrays)


def test_ties_break_as_the_reference_breaks_them():
    """Two symbols with the very same signals and boosts: equal strengths, ranked and
    rotated out by symbol name."""
    knobs = {"rotation_manager_config": {"max_positions": 2, "min_rank_to_hold": 4,
                                         "rotation_strength_delta": 0.0, "min_hold_bars": 0,
                                         "cooldown_bars": 0},
             "signal_aggregator_config": {"leverage_boosts": dict.fromkeys(SYMBOLS, 1.5)}}  # fmt: skip
    cfg = config(True, knobs)
    grid = market(0, 0.25)

    def pairs(prob, conf, rhat, age):
        prob[1], conf[1], rhat[1], age[1] = prob[0], conf[0], rhat[0], age[0]

    ref, days, rec = both(cfg, grid, signals=with_signals(batch_signals(grid, cfg.oes_config), pairs))
    assert any("rotated out" in o.reason for o in ref.orders)
    assert_same(ref, days, rec)


def test_probabilities_on_the_ladders_edges_are_the_same():
    cfg = psm_config(True, {"psm_config": {"min_hold_bars": 0}})
    grid = market(1, 0.25, False, PSM_SYMBOLS)
    edges = Ladder.from_config(cfg).boundaries()
    cycle = [edges[k] for k in ("bull2", "bull1", "buy", "sell", "bear1", "bear2", "buy")]
    row = grid.symbols.index(cfg.psm_config.signal_symbol)

    def on_edges(prob, conf, rhat, age):
        n = prob.shape[1]
        prob[row] = [cycle[(i // 3) % len(cycle)] for i in range(n)]

    ref, days, rec = both(cfg, grid, signals=with_signals(batch_signals(grid, cfg.oes_config), on_edges))
    assert len({st for _, st in ref.states}) >= 6  # the edges reach (almost) every state
    assert_same(ref, days, rec)


# ---------------------------------------------------------------------- never silently different


def test_a_knob_the_loop_does_not_model_falls_back_naming_it(monkeypatch, caplog):
    cfg = config(False, {})
    known = dict(compiled_simulator.MODELLED)
    known["risk"] = known["risk"] - {"allocated_capital"}
    monkeypatch.setattr(compiled_simulator, "MODELLED", known)
    why = unsupported_reason(cfg, CostModel.from_config(cfg.costs))
    assert why == "risk knob(s) ['allocated_capital'] are not modelled by the compiled loop"
    grid = market(0, 0.25)
    signals = batch_signals(grid, cfg.oes_config)
    costs = CostModel.from_config(cfg.costs)
    liquidity = backtest_liquidity(grid, [2, 3], costs.liquidity_sessions)
    with caplog.at_level(logging.INFO, logger="optimize.compiled_simulator"):
        days, rec = COMPILED.run(cfg, grid, signals, [2, 3], liquidity=liquidity, costs=costs,
                                 record=True)  # fmt: skip
        got = [d.return_pct for d in days]
    assert rec is None
    assert got == [d.return_pct for d in REFERENCE.days(cfg, grid, signals, [2, 3],
                                                          liquidity=liquidity, costs=costs)]
    assert any("allocated_capital" in r.getMessage() for r in caplog.records)


def test_fee_rates_with_more_decimals_than_the_loop_keeps_fall_back():
    cfg = config(False, {"costs": {"cat_fee_per_share": 0.0000461234567891234}})
    why = unsupported_reason(cfg, CostModel.from_config(cfg.costs))
    assert why is not None and "fee rates" in why


def test_a_run_the_loop_cannot_finish_goes_on_on_the_reference(monkeypatch, caplog):
    from engine_core import decision_loop

    real = decision_loop.DecisionLoop

    class Stops(real):
        calls = 0

        def session(self, *args):
            Stops.calls += 1
            if Stops.calls == 2:
                self.reason = "a case the loop does not model"
                return None
            return super().session(*args)

    monkeypatch.setattr(compiled_simulator, "DecisionLoop", Stops)
    cfg = config(True, {})
    grid = market(1, 0.25)
    signals = batch_signals(grid, cfg.oes_config)
    ks = list(range(WARMUP, len(grid.sessions)))
    costs = CostModel.from_config(cfg.costs)
    liquidity = backtest_liquidity(grid, ks, costs.liquidity_sessions)
    with caplog.at_level(logging.INFO, logger="optimize.compiled_simulator"):
        days, rec = COMPILED.run(cfg, grid, signals, ks, liquidity=liquidity, costs=costs, record=True)
        got = [(d.session_date, d.return_pct, d.trades) for d in days]
    want = [(d.session_date, d.return_pct, d.trades)
            for d in REFERENCE.days(cfg, grid, signals, ks, liquidity=liquidity, costs=costs)]  # fmt: skip
    assert got == want
    assert rec is not None and rec.fallback == "a case the loop does not model"
    assert [r.getMessage() for r in caplog.records if r.name == "optimize.compiled_simulator"] == [
        f"compiled simulator: a case the loop does not model (session {grid.sessions[WARMUP + 1].date}): "
        "the run goes on on the reference simulator"
    ]
