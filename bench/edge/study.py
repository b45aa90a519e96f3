"""A config over many synthetic markets: the figures of the issue's table, and paired
comparisons of configs on the very same sessions.

Each market (:class:`bench.edge.markets.MarketSpec`) is backtested with the engine's own
backtest (:mod:`bench.edge.evaluate`); the days of every market are pooled:

- **mean day %**: the mean of the sessions' net returns (after the cost model's
  half-spreads, slippage and fees), percent of the session's start equity; **t**: that
  mean over its standard error (sessions taken as independent);
- **round trips / day**, **turnover × equity / day** (traded value over start equity),
  **gross %** (before costs), **costs %**, **hold %** (the hold baseline's net return);
- **IC**: the decision probability's correlation with the forward return at the traded
  horizon (:func:`bench.edge.evaluate.decision_ic`), averaged over the markets.

:func:`compare` backtests configs on the same markets and reports each one's daily net
return minus the base's, paired by session (mean, t): differences far smaller than the
spread of daily returns show through, which unpaired means hide.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.edge.evaluate import WARMUP, RunMetrics, evaluate
from bench.edge.markets import MarketSpec, market_grid
from common.config import StrategyConfig
from engine.signals import ensemble_params, ensemble_run


@dataclass(frozen=True)
class Row:
    """One config on a set of markets: the table's figures."""

    days: int
    net: float
    t: float
    round_trips: float
    turnover: float
    gross: float
    costs: float
    hold: float
    hold_t: float
    ic: float

    @classmethod
    def of(cls, runs: Sequence[RunMetrics]) -> Row:
        net = np.concatenate([r.net for r in runs])
        hold = np.concatenate([r.hold for r in runs])
        return cls(
            days=len(net),
            net=float(net.mean()),
            t=t_stat(net),
            round_trips=float(np.concatenate([r.round_trips for r in runs]).mean()),
            turnover=float(np.concatenate([r.turnover for r in runs]).mean()),
            gross=float(np.concatenate([r.gross for r in runs]).mean()),
            costs=float(np.concatenate([r.costs for r in runs]).mean()),
            hold=float(hold.mean()),
            hold_t=t_stat(hold),
            ic=float(np.nanmean([r.ic for r in runs])) if runs else math.nan,
        )


def t_stat(x: np.ndarray) -> float:
    """Mean over standard error (0 for fewer than two values or no spread)."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < 2 or not x.std(ddof=1) > 0:
        return 0.0
    return float(x.mean() / (x.std(ddof=1) / math.sqrt(len(x))))


class Study:
    """Markets under ``cache`` (generated once), engine_core runs kept per prediction key."""

    def __init__(self, cache: Path, warmup: int = WARMUP) -> None:
        self.cache = Path(cache)
        self.warmup = warmup
        self._runs: dict[tuple, tuple] = {}

    def _run(self, cfg: StrategyConfig, spec: MarketSpec) -> tuple:
        key = (spec, cfg.symbols, ensemble_params(cfg.oes_config).prediction_key())
        if key not in self._runs:
            grid = market_grid(spec, cfg.symbols, self.cache)
            self._runs[key] = (grid, ensemble_run(grid, cfg.oes_config))
        return self._runs[key]

    def metrics(self, cfg: StrategyConfig, specs: Iterable[MarketSpec]) -> list[RunMetrics]:
        out = []
        for spec in specs:
            grid, run = self._run(cfg, spec)
            out.append(evaluate(cfg, grid, run, warmup=self.warmup))
        return out

    def forget(self) -> None:
        """Drop the stored engine_core runs (memory)."""
        self._runs.clear()


def specs(seeds: Iterable[int], signal: float) -> list[MarketSpec]:
    return [MarketSpec(s, signal) for s in seeds]


def paired(base: Sequence[RunMetrics], other: Sequence[RunMetrics]) -> tuple[float, float]:
    """(mean, t) of ``other``'s daily net return minus ``base``'s, session by session."""
    d = np.concatenate([np.asarray(o.net) - np.asarray(b.net) for b, o in zip(base, other, strict=True)])
    return float(d.mean()), t_stat(d)


__all__ = ["Row", "Study", "paired", "specs", "t_stat"]
