"""Backtest throughput, batch signal path vs the live per-bar path, and the live warm-up time.

Data: the synthetic market (mockmarket.synthetic, seed 7, learnable signal 0.2) of the 12
rotation ETFs over 42 sessions ending 2025-10-31, written as CSV to a temporary
directory. Measured in one command:

* a rotation backtest of the last 20 sessions (7,800 decided minutes, 12 symbols) with
  20 warm-up sessions before them: grid load, signals, decision loop (fills through the
  shared cost model, resting orders, the hold baseline and the signal diagnostics; and
  the optimizer's trial form: liquidity given, no diagnostics). The signals come
  from engine_core's batch entry (one call) or from the live per-bar path
  (``SignalEngine.update`` once per minute): scored minutes per second of each and their
  ratio; the two produce the same fills (checked);
* the live warm-up for "today" = 2025-10-31 at 12:00: load 20 history sessions plus
  today's bars from ``{SYMBOL}_today.csv`` onto the grid, then every minute through the
  per-bar path (and rotation's ``observe`` for today's minutes), against the batch
  warm-up (``SignalEngine.warm_up``) of the same grid.

Times are the best of a few repeats (the machine is shared).
"""

from __future__ import annotations

import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from bench.timing import best_of
from common.calendar import ny_datetime, nyse, to_ms
from common.config import RotationStrategyConfig
from common.csvfiles import history_path, read_history, today_path, write_today
from engine.backtest import backtest_sessions, simulate
from engine.market_grid import load_sessions
from engine.signals import SignalEngine, batch_signals, per_bar_signals
from engine.sim_liquidity import backtest_liquidity
from engine.strategies import make_strategy
from mockmarket.synthetic import ROTATION_SYMBOLS, SyntheticConfig, write_market

LAST = date(2025, 10, 31)
SCORED = 20
WARMUP = 20
TODAY_UNTIL = "12:00"


def _backtest(root: Path, per_bar: bool) -> tuple[dict[str, float], Any]:
    cfg = RotationStrategyConfig()
    cal = nyse()
    warm, scored = backtest_sessions(cal.sessions_before(LAST, SCORED - 1)[0].date, LAST, WARMUP)
    t_load, grid = best_of(lambda: load_sessions(cfg.symbols, [*warm, *scored], root / "equities"), 2)
    signals_fn = per_bar_signals if per_bar else batch_signals
    t_sig, signals = best_of(lambda: signals_fn(grid, cfg.oes_config), 2)
    ks = range(len(warm), len(warm) + len(scored))
    t_sim, result = best_of(lambda: simulate(cfg, grid, signals, ks), 2)
    # the optimizer's trial form: liquidity measured once per grid, no signal diagnostics
    liquidity = backtest_liquidity(grid, ks, cfg.costs.liquidity_sessions)
    t_trial, _ = best_of(
        lambda: simulate(cfg, grid, signals, ks, liquidity=liquidity, diagnostics=False), 2
    )
    minutes = sum(d.minutes for d in result.days)
    return {
        "load": t_load,
        "signals": t_sig,
        "decide": t_sim,
        "trial": t_trial,
        "minutes": minutes,
        "grid_minutes": grid.n_minutes,
    }, result


def _write_today(root: Path, today_dir: Path) -> int:
    """Today's bars up to TODAY_UNTIL as {SYMBOL}_today.csv; returns the cut (ms)."""
    session = nyse().session(LAST)
    cut = to_ms(ny_datetime(LAST, TODAY_UNTIL))
    for sym in ROTATION_SYMBOLS:
        bars = [
            b
            for b in read_history(history_path(root / "equities", sym))
            if session.open_ms <= b.t < cut
        ]
        write_today(today_path(today_dir, sym), bars)
    return cut


def _warm_up(root: Path, today_dir: Path, per_bar: bool) -> dict[str, float]:
    cfg = RotationStrategyConfig()
    cal = nyse()
    sessions = [*cal.sessions_before(LAST, WARMUP), cal.session(LAST)]
    started = time.perf_counter()
    grid = load_sessions(cfg.symbols, sessions, root / "equities", today_dir)
    loaded = time.perf_counter()
    engine = SignalEngine(cfg.symbols, cfg.oes_config)
    strategy = make_strategy(cfg)
    today = grid.session_range(len(sessions) - 1)
    if per_bar:
        for n, m in enumerate(grid):
            sig = engine.update(m)
            if n >= today.start:
                strategy.observe(m.t, sig)
    else:
        batch = engine.warm_up(grid)
        for n in today:
            strategy.observe(int(grid.t_ms[n]), batch.at(n))
    done = time.perf_counter()
    return {
        "load": loaded - started,
        "signals": done - loaded,
        "total": done - started,
        "minutes": grid.n_minutes,
    }


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench_backtest_") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        write_market(
            root / "equities",
            SyntheticConfig(
                seed=7,
                sessions=WARMUP + SCORED + 2,
                end_date=LAST,
                signal_strength=0.2,
                symbols=ROTATION_SYMBOLS,
            ),
        )
        print(
            f"data: 12 symbols x {WARMUP + SCORED + 2} synthetic sessions to {LAST} "
            f"(written in {time.perf_counter() - started:.1f} s)"
        )

        batch, r_batch = _backtest(root, per_bar=False)
        per_bar, r_bar = _backtest(root, per_bar=True)
        same = r_batch.fills == r_bar.fills and r_batch.orders == r_bar.orders
        n = batch["minutes"]
        print(
            f"\nrotation backtest: {SCORED} sessions ({n} decided minutes) after {WARMUP} warm-up "
            f"sessions ({batch['grid_minutes']} grid minutes x 12 symbols); "
            f"{len(r_batch.fills)} fills; per-bar == batch: {'yes' if same else 'NO'}"
        )
        print(
            f"{'path':10} {'load s':>8} {'signals s':>10} {'decide s':>9} {'total s':>8} "
            f"{'min/s':>9} {'signal min/s':>13}"
        )
        for name, m in (("batch", batch), ("per-bar", per_bar)):
            total = m["load"] + m["signals"] + m["decide"]
            print(
                f"{name:10} {m['load']:8.3f} {m['signals']:10.3f} {m['decide']:9.3f} {total:8.3f} "
                f"{n / total:9.0f} {m['grid_minutes'] / m['signals']:13.0f}"
            )
        tb = batch["load"] + batch["signals"] + batch["decide"]
        tp = per_bar["load"] + per_bar["signals"] + per_bar["decide"]
        print(
            f"ratio batch/per-bar: whole backtest {tp / tb:.2f}x, signals alone "
            f"{per_bar['signals'] / batch['signals']:.2f}x; decision loop "
            f"{1e6 * batch['decide'] / n:.0f} us/minute with costs, hold baseline and "
            f"diagnostics ({n / batch['decide']:.0f} decided min/s); trial form (liquidity "
            f"given, no diagnostics) {1e6 * batch['trial'] / n:.0f} us/minute "
            f"({n / batch['trial']:.0f} decided min/s)"
        )
        (s,) = r_batch.summaries()
        print(
            f"costs: gross ${s.gross:,.2f}, costs ${s.costs.total:,.2f} (half-spread "
            f"${s.costs.spread:,.2f}, slippage ${s.costs.slippage:,.2f}, fees "
            f"${s.costs.fees:,.2f}), net ${s.net:,.2f}; turnover {s.turnover:.1f}x/day"
        )

        today_dir = root / "tmp" / "todays_bars"
        _write_today(root, today_dir)
        print(
            f"\nlive warm-up: {WARMUP} sessions + today 09:30..{TODAY_UNTIL} from CSV, 12 symbols"
        )
        print(f"{'path':10} {'load s':>8} {'signals s':>10} {'total s':>8} {'minutes':>8}")
        for name, per in (("per-bar", True), ("batch", False)):
            _, w = best_of(lambda per=per: _warm_up(root, today_dir, per), 3)
            print(
                f"{name:10} {w['load']:8.3f} {w['signals']:10.3f} {w['total']:8.3f} "
                f"{w['minutes']:8d}"
            )


if __name__ == "__main__":
    main()
