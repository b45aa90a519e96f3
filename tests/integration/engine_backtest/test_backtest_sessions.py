"""Backtests over several synthetic sessions written to disk: flat every close (12:58 on the
half day), per-bar == batch, the knobs that must change the result, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from common.calendar import ny_date, nyse
from common.children import with_pythonpath
from common.config import (
    RotationStrategyConfig,
    apply_params,
    default_config_json,
    original_config,
    original_config_json,
    validate_strategy_config,
)
from engine.backtest import run_backtest, simulate
from engine.backtest_result import BacktestResult
from engine.market_grid import MinuteGrid, load_sessions
from engine.signals import BatchSignals, batch_signals
from ledger.money import ceil_cents, cents, price_of, round_price
from mockmarket.synthetic import SyntheticConfig, write_market

ROOT = Path(__file__).resolve().parents[3]
START, END = date(2025, 11, 25), date(2025, 12, 2)  # 5 sessions, the half day 11-28 inside
HALF = date(2025, 11, 28)
WARMUP = 3


# The slippage and the commission start at zero here, as they did when these expectations
# were written (the half-spread and the regulatory fees apply, as everywhere); a test that
# turns a cost knob sets it explicitly.
NO_COSTS = {"costs__slippage_bps": 0.0, "costs__fee_per_share": 0.0}


def config(strategy: str, **dotted):
    """The ported system's tuning (it trades within three warm-up sessions) with overrides."""
    dotted = {**NO_COSTS, **dotted}
    data = apply_params(
        original_config_json(strategy),
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
    [HOLDS, original_config("rotation"), original_config("psm"), RotationStrategyConfig()],
    ids=["rotation-holds", "rotation", "psm", "rotation-defaults"],
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
    cfg = original_config("rotation")
    cal = nyse()
    sessions = [*cal.sessions_before(START, WARMUP), *cal.sessions_between(START, END)]
    grid = load_sessions(cfg.symbols, sessions, market.directory / "equities")
    return grid, batch_signals(grid, cfg.oes_config), list(range(WARMUP, len(sessions)))


@pytest.fixture(scope="module")
def rotation_base(rotation_data) -> BacktestResult:
    return run(rotation_data, config("rotation"))


def run(data, cfg) -> BacktestResult:
    grid, signals, ks = data
    if cfg.oes_config != original_config("rotation").oes_config:
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
        {"oes_config__calibration": True},
        {"oes_config__entry_cost_margin": 1.0},
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
    # both pay the half-spread over the next minute's open; the slipped one 5 bp of it more
    ref, half = f0.costs.reference, f0.costs.half_spread
    assert ref == price_of(grid.open[grid.symbols.index(f0.symbol), grid.index_of(f0.t_ms)])
    assert (s0.costs.reference, s0.costs.half_spread) == (ref, half) and half > 0
    assert Decimal(repr(f0.price)) == round_price(ref + half)
    assert Decimal(repr(s0.price)) == round_price(ref + half + ref * Decimal(5) / 10_000)
    fee = run(rotation_data, config("rotation", costs__fee_per_share=0.01))
    assert all(
        f.costs.fees.commission == cents(Decimal("0.01") * Decimal(repr(f.qty))) for f in fee.fills
    )
    assert all(f.costs.fees.commission == 0 for f in base.fills)
    for r in (base, fee):  # the fee taken: the commission plus the regulatory fees that came due
        assert all(Decimal(repr(f.fee)) == f.costs.fee_charged for f in r.fills)
        assert sum(f.costs.fee_charged for f in r.fills) == sum(
            ceil_cents(sum(f.costs.fees.regulatory for f in r.fills if ny_date(f.t_ms) == d))
            + sum(f.costs.fees.commission for f in r.fills if ny_date(f.t_ms) == d)
            for d in {ny_date(f.t_ms) for f in r.fills}
        )
    small = run(rotation_data, config("rotation", backtest__starting_cash=25_000.0))
    assert small.days[0].start_equity == 25_000.0 and small.fills[0].qty < f0.qty
    early = run(rotation_data, config("rotation", session__eod_minutes_before_close=5))
    assert max(f.t_ms for f in early.fills) <= eod_fill_minute(END, 5) < eod_fill_minute(END)


def test_gross_is_the_pnl_at_reference_prices_and_net_the_change_in_equity(rotation_base):
    r = rotation_base
    assert r.flat_every_close
    for d in r.days:
        fills = [f for f in r.fills if ny_date(f.t_ms) == d.session_date]
        at_reference = sum(-f.costs.sign * f.costs.qty * f.costs.reference for f in fills)
        assert d.gross == pytest.approx(float(at_reference), abs=0.015)
        assert d.net == pytest.approx(d.end_equity - d.start_equity)
        assert d.costs.total == pytest.approx(
            float(sum(f.costs.total_cost for f in fills)), abs=0.01 + 0.01 * len(fills)
        )
        assert d.costs.spread > 0 and d.costs.fees > 0 and d.hold is not None
        assert d.turnover == pytest.approx(sum(f.qty * f.price for f in fills) / d.start_equity)
    (whole,) = r.summaries()
    assert whole.gross == pytest.approx(sum(d.gross for d in r.days))
    labels = [x.label for x in r.diagnostics]
    assert labels == ["in-sample (no held-out split)"] and r.diagnostics[0].sessions == len(r.days)


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


@pytest.fixture(scope="module")
def psm_cli(tmp_path_factory):
    """Run ``python -m engine backtest --strategy psm ARGS`` on 21 synthetic sessions ending on
    the half day; (CompletedProcess, its working directory)."""
    root = tmp_path_factory.mktemp("psm_cli")
    data = root / "data"
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
    conf = root / "config"
    conf.mkdir()
    cfg = _psm_config_file(conf)

    def run(*args: str, data_dir: Path = data) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "engine", "backtest", "--strategy", "psm",
             "--data-dir", str(data_dir), "--config-dir", str(conf), "--config", str(cfg), *args],
            cwd=root,
            env=with_pythonpath(ROOT),
            capture_output=True,
            text=True,
            timeout=120,
        )  # fmt: skip

    return run, root


def rows(text: str, name: str) -> list[str]:
    """The report's lines for figure ``name`` (its label, then one value per group)."""
    return [x for x in text.splitlines() if x.startswith(f"  {name:<24} ")]


def test_python_m_engine_backtest_prints_the_report(psm_cli):
    run, root = psm_cli
    out = run("--start", HALF.isoformat(), "--end", HALF.isoformat())
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "backtest psm: 2025-11-28..2025-11-28, 1 session(s), 20 warm-up session(s)" in text
    assert "mean daily return (MRD)" in text and "half day" in text
    # gross, costs, net, hold baseline, turnover, round trips: one column, labelled
    (head,) = rows(text, "")
    assert head.split() == ["in-sample", "(no", "held-out", "split)"]
    for name in ("gross P&L", "costs", "  half-spread", "  slippage", "  fees", "net P&L",
                 "hold baseline", "costs / gross", "turnover", "round trips per day"):  # fmt: skip
        assert len(rows(text, name)) == 1, name
    (costs,) = rows(text, "costs")
    assert float(costs.split("$")[1].replace(",", "")) > 0
    assert "x equity per day" in rows(text, "turnover")[0]
    assert "net of costs" in rows(text, "mean daily return (MRD)")[0]
    # the signal diagnostics: IC of the probability and of each horizon's forecast
    assert "  in-sample (no held-out split): 1 session(s); the strategy trades a " in text
    for ic in ("IC prob", "IC h1 forecast", "IC h5 forecast", "IC h10 forecast"):
        assert f"    {ic} " in text, ic
    bad = run("--start", "2025-11-28", "--end", "2025-11-28", data_dir=root / "nowhere")
    assert bad.returncode != 0 and "SPY_RTH_NH.csv" in bad.stderr


def test_the_cli_labels_in_sample_and_held_out_sessions(psm_cli):
    run, _ = psm_cli
    out = run("--start", "2025-11-26", "--end", HALF.isoformat(), "--held-out-from",
              HALF.isoformat(), "--warmup-sessions", "19")  # fmt: skip
    assert out.returncode == 0, out.stderr
    text = out.stdout
    (head,) = rows(text, "")
    assert head.split() == ["in-sample", "held-out"]
    for name in ("gross P&L", "costs", "net P&L", "turnover", "round trips per day"):
        (line,) = rows(text, name)
        assert len(line[27:].split("  ")) >= 2, line  # a value per group
    assert "  in-sample: 1 session(s); the strategy trades a " in text
    assert "  held-out: 1 session(s); the strategy trades a " in text
    days = [x for x in text.splitlines() if x.startswith("  2025-11-2")]
    assert [x.split()[:2] for x in days] == [["2025-11-26", "IS"], ["2025-11-28", "HO"]]
    bad = run("--start", "2025-11-26", "--end", HALF.isoformat(), "--held-out-from", "2025-11-26")
    assert bad.returncode == 2 and "--held-out-from 2025-11-26 must be after --start" in bad.stderr


def _psm_config_file(directory: Path) -> Path:
    path = directory / "psm.json"
    path.write_text(json.dumps(default_config_json("psm")))
    return path
