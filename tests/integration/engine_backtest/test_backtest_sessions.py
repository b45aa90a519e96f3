"""Backtests over several synthetic sessions written to disk: flat every close (12:58 on the
half day), per-bar == batch, the knobs that must change the result, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from common.calendar import nyse
from common.config import (
    PsmStrategyConfig,
    RotationStrategyConfig,
    apply_params,
    default_config_json,
    validate_strategy_config,
)
from engine.backtest import run_backtest, simulate
from engine.backtest_result import BacktestResult
from engine.market_grid import MinuteGrid, load_sessions
from engine.signals import BatchSignals, batch_signals
from ledger.money import price_of, round_price
from mockmarket.synthetic import SyntheticConfig, write_market

ROOT = Path(__file__).resolve().parents[3]
START, END = date(2025, 11, 25), date(2025, 12, 2)  # 5 sessions, the half day 11-28 inside
HALF = date(2025, 11, 28)
WARMUP = 3


# The backtest's own costs (slippage, fee per share) start at zero here, as they did when
# these expectations were written; a test that turns a cost knob sets it explicitly.
NO_COSTS = {"costs__slippage_bps": 0.0, "costs__fee_per_share": 0.0}


def config(strategy: str, **dotted):
    dotted = {**NO_COSTS, **dotted}
    data = apply_params(
        default_config_json(strategy),
        {k.replace("__", "."): v for k, v in dotted.items()},
        source="<test>",
        strategy=strategy,
    )
    return validate_strategy_config(strategy, data, source="<test>")


# rotation that enters once signals are warm and holds to the close: EOD has work to do
HOLDS = config(
    "rotation",
    oes_config__buy_threshold=0.5,
    oes_config__sell_threshold=0.06,
    signal_aggregator_config__min_probability=0.5,
    signal_aggregator_config__min_confidence=0.0,
    signal_aggregator_config__min_strength=0.0,
    signal_aggregator_config__max_signal_age_bars=390,
    rotation_manager_config__min_strength_to_enter=0.0,
    rotation_manager_config__min_strength_to_exit=0.0,
    rotation_manager_config__rotation_strength_delta=5.0,
    rotation_manager_config__min_hold_bars=390,
    rotation_manager_config__profit_target=1.0,
    rotation_manager_config__stop_loss=1.0,
    rotation_manager_config__min_rank_to_hold=12,
    risk__daily_loss_limit_pct=0.5,
)


def eod_fill_minute(day: date, before_close: int = 2) -> int:
    return nyse().session(day).eod_ms(before_close)


@pytest.mark.parametrize(
    "cfg",
    [HOLDS, RotationStrategyConfig(), PsmStrategyConfig()],
    ids=["rotation-holds", "rotation", "psm"],
)
def test_every_day_is_flat_at_the_close_flattened_at_close_minus_two(market, cfg):
    r = run_backtest(cfg, START, END, data_dir=market.directory, warmup_sessions=WARMUP)
    assert [d.session_date for d in r.days] == [s.date for s in nyse().sessions_between(START, END)]
    assert r.flat_every_close and not r.unfilled and len(r.fills) > 10
    for d in r.days:
        eod = eod_fill_minute(d.session_date)
        day_fills = [f for f in r.fills if nyse().session_of_minute(f.t_ms).date == d.session_date]
        assert max(f.t_ms for f in day_fills) <= eod
        assert d.minutes == (210 if d.session_date == HALF else 390)
        assert d.unsent == 0 and d.fills == len(day_fills) and d.orders == d.fills
        if cfg is HOLDS:  # three positions held into the close, sold at 15:58 (12:58)
            last = [f for f in day_fills if f.t_ms == eod]
            assert len(last) == 3 and {f.side for f in last} == {"sell"}
            assert all(
                f.client_order_id.endswith(
                    f"-{'1257' if d.session_date == HALF else '1557'}-{f.symbol}-s-0"
                )
                for f in last
            )
    assert len(r.equity) == sum(d.minutes for d in r.days)


def test_the_per_bar_path_gives_the_same_backtest_as_the_batch_path(market):
    cfg = RotationStrategyConfig()
    a = run_backtest(cfg, START, END, data_dir=market.directory, warmup_sessions=WARMUP)
    b = run_backtest(
        cfg, START, END, data_dir=market.directory, warmup_sessions=WARMUP, per_bar=True
    )
    assert a.orders == b.orders and a.fills == b.fills and a.days == b.days
    assert (a.equity == b.equity).all() and len(a.fills) > 20


# ---------------------------------------------------------------------- knobs


@pytest.fixture(scope="module")
def rotation_data(market) -> tuple[MinuteGrid, BatchSignals, list[int]]:
    cfg = RotationStrategyConfig()
    cal = nyse()
    sessions = [*cal.sessions_before(START, WARMUP), *cal.sessions_between(START, END)]
    grid = load_sessions(cfg.symbols, sessions, market.directory / "equities")
    return grid, batch_signals(grid, cfg.oes_config), list(range(WARMUP, len(sessions)))


@pytest.fixture(scope="module")
def rotation_base(rotation_data) -> BacktestResult:
    return run(rotation_data, config("rotation"))


def run(data, cfg) -> BacktestResult:
    grid, signals, ks = data
    if cfg.oes_config != RotationStrategyConfig().oes_config:
        signals = batch_signals(grid, cfg.oes_config)
    return simulate(cfg, grid, signals, ks)


def fills_of(r: BacktestResult) -> list[tuple]:
    return [(f.client_order_id, f.qty, f.price) for f in r.fills]


@pytest.mark.parametrize(
    "knob",
    [
        {"oes_config__ewrls_lambda": 0.995},
        {"oes_config__regularization": 0.01},
        {"oes_config__horizon_weights": [0.6, 0.2, 0.2]},
        {"oes_config__bb_period": 10},
        {"oes_config__bb_std": 1.0},
        {"oes_config__bb_proximity": 0.5},
        {"oes_config__bb_amplification": 0.3},
        {"costs__slippage_bps": 5.0},
        {"costs__fee_per_share": 0.01},
        {"backtest__starting_cash": 25_000.0},
        {"session__eod_minutes_before_close": 5},
    ],
    ids=lambda k: next(iter(k)),
)
def test_each_knob_changes_the_backtest(rotation_data, rotation_base, knob):
    base = rotation_base
    other = run(rotation_data, config("rotation", **knob))
    assert fills_of(other) != fills_of(base)
    assert other.final_equity != base.final_equity


def test_the_initial_variance_changes_the_backtest_when_the_prior_is_not_forgotten(rotation_data):
    """With lambda < 1 the prior ridge 1/delta fades as lambda^t and is gone after the warm-up;
    with lambda = 1 it stays, and delta changes the decisions."""
    base = run(rotation_data, config("rotation", oes_config__ewrls_lambda=1.0))
    other = run(
        rotation_data,
        config("rotation", oes_config__ewrls_lambda=1.0, oes_config__initial_variance=0.05),
    )
    assert fills_of(other) != fills_of(base)
    assert other.final_equity != base.final_equity


def test_slippage_fees_and_cash_act_exactly_as_configured(rotation_data, rotation_base):
    grid, base = rotation_data[0], rotation_base
    slip = run(rotation_data, config("rotation", costs__slippage_bps=5.0))
    f0, s0 = base.fills[0], slip.fills[0]  # the first order is decided before costs differ
    assert (f0.client_order_id, f0.qty) == (s0.client_order_id, s0.qty) and f0.side == "buy"
    assert Decimal(repr(s0.price)) == round_price(price_of(f0.price) * (1 + Decimal(5) / 10_000))
    assert f0.price == grid.open[grid.symbols.index(f0.symbol), grid.index_of(f0.t_ms)]
    fee = run(rotation_data, config("rotation", costs__fee_per_share=0.01))
    assert all(f.fee == round(0.01 * f.qty, 2) for f in fee.fills) and all(
        f.fee == 0 for f in base.fills
    )
    small = run(rotation_data, config("rotation", backtest__starting_cash=25_000.0))
    assert small.days[0].start_equity == 25_000.0 and small.fills[0].qty < f0.qty
    early = run(rotation_data, config("rotation", session__eod_minutes_before_close=5))
    assert max(f.t_ms for f in early.fills) <= eod_fill_minute(END, 5) < eod_fill_minute(END)


def test_the_daily_loss_limit_halts_the_rest_of_the_day(rotation_data):
    r = run(rotation_data, config("rotation", risk__daily_loss_limit_pct=0.002))
    halted = [d for d in r.days if d.halted]
    assert halted and r.flat_every_close
    for d in halted:
        day_fills = [f for f in r.fills if nyse().session_of_minute(f.t_ms).date == d.session_date]
        last_buy = max((f.t_ms for f in day_fills if f.side == "buy"), default=0)
        halt_sells = [f for f in day_fills if f.t_ms > last_buy]
        assert halt_sells and all(f.side == "sell" for f in halt_sells)
        assert d.end_equity < d.start_equity * (1 - 0.002)


# ---------------------------------------------------------------------- the CLI


def test_python_m_engine_backtest_prints_the_report(tmp_path):
    data = tmp_path / "data"
    write_market(
        data / "equities",
        SyntheticConfig(
            seed=4,
            sessions=21,
            end_date=HALF,
            signal_strength=0.2,
            symbols=("SPY", "SPXL", "SH", "SDS"),
        ),
    )
    conf = tmp_path / "config"
    conf.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
        ),
    }
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "engine",
            "backtest",
            "--strategy",
            "psm",
            "--start",
            HALF.isoformat(),
            "--end",
            HALF.isoformat(),
            "--data-dir",
            str(data),
            "--config-dir",
            str(conf),
            "--config",
            str(_psm_config_file(conf)),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "backtest psm: 2025-11-28..2025-11-28, 1 session(s), 20 warm-up session(s)" in out.stdout
    assert "mean daily return (MRD)" in out.stdout and "half day" in out.stdout
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "engine",
            "backtest",
            "--strategy",
            "psm",
            "--start",
            "2025-11-28",
            "--end",
            "2025-11-28",
            "--data-dir",
            str(tmp_path / "nowhere"),
            "--config",
            str(conf / "psm.json"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode != 0 and "SPY_RTH_NH.csv" in bad.stderr


def _psm_config_file(directory: Path) -> Path:
    path = directory / "psm.json"
    path.write_text(json.dumps(default_config_json("psm")))
    return path
