"""One strategy config over one synthetic market: the engine's backtest and its figures.

- engine_core runs once per (market, ``EnsembleParams.prediction_key()``)
  (:func:`engine.signals.ensemble_run`); every config that shares the key only redoes the
  step after the EWRLS (:func:`engine.signals.recombined_signals`), bit for bit what a full
  run gives;
- the decisions, fills and figures are the engine's backtest (:func:`engine.backtest.simulate`:
  the live strategy code, mockmarket's fill rule and the shared cost model) over the
  sessions after ``warmup``;
- per session: net and gross return, costs, round trips, turnover, and the hold
  baseline's net return (:mod:`engine.hold_baseline`); IC: the backtest's diagnostics of
  the decision probability at the traded horizon (PSM: its signal symbol's probability;
  rotation: every symbol's, pooled).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from common.config import PsmStrategyConfig, StrategyConfig
from engine.backtest import simulate
from engine.backtest_result import BacktestResult
from engine.market_grid import MinuteGrid
from engine.signals import recombined_signals
from engine_core import BatchResult

WARMUP = 20
"""Sessions before the scored ones (the engine's warm-up length)."""


@dataclass
class RunMetrics:
    """One config on one market, over its scored sessions."""

    net: list[float] = field(default_factory=list)
    """Net return of each session, percent."""
    gross: list[float] = field(default_factory=list)
    costs: list[float] = field(default_factory=list)
    """Costs of each session (half-spreads, slippage, fees), percent of its start equity."""
    hold: list[float] = field(default_factory=list)
    """The hold baseline's net return of each session, percent."""
    round_trips: list[int] = field(default_factory=list)
    turnover: list[float] = field(default_factory=list)
    """Traded value over start equity, per session."""
    ic: float = float("nan")
    ic_t: float = float("nan")
    horizon: int = 0
    """The traded horizon the IC is measured at (minutes)."""


def decision_ic(cfg: StrategyConfig, result: BacktestResult) -> tuple[float, float, int]:
    """(Pearson IC, its t, horizon) of the decision probability at the traded horizon."""
    if not result.diagnostics:
        return float("nan"), float("nan"), 0
    diag = result.diagnostics[0]
    ic = diag.by_name("prob", diag.horizon)
    corr = (
        ic.per_symbol.get(cfg.psm_config.signal_symbol)
        if isinstance(cfg, PsmStrategyConfig)
        else ic.pooled
    )
    if corr is None:
        return float("nan"), float("nan"), diag.horizon
    return corr.pearson, corr.pearson_t, diag.horizon


def evaluate(cfg: StrategyConfig, grid: MinuteGrid, run: BatchResult, *,
             warmup: int = WARMUP) -> RunMetrics:  # fmt: skip
    """The config's backtest over the grid's sessions after ``warmup``."""
    scored = list(range(warmup, len(grid.sessions)))
    result = simulate(cfg, grid, recombined_signals(grid, cfg.oes_config, run), scored)
    out = RunMetrics()
    for d in result.days:
        out.net.append(d.return_pct)
        out.gross.append(d.gross_return_pct)
        out.costs.append(100.0 * d.costs.total / d.start_equity)
        out.hold.append(d.hold.return_pct if d.hold is not None else 0.0)
        out.round_trips.append(d.trades)
        out.turnover.append(d.turnover)
    out.ic, out.ic_t, out.horizon = decision_ic(cfg, result)
    return out


__all__ = ["WARMUP", "RunMetrics", "decision_ic", "evaluate"]
