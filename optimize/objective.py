"""The objective: mean daily net return (%) over the scored sessions, penalised below a
minimum number of trades, with one intermediate value per session for the pruner.

:func:`score` is what a trial computes for one config: the sessions decided and filled by
a :class:`~optimize.simulator.Simulator` on signals from the :class:`SignalCache`. Its
``mrd_pct`` is the mean of the sessions' net returns (costs included), exactly what
``python -m engine backtest`` reports as the mean daily return of the same sessions.
The penalty: with fewer than ``min_trades`` round trips the score loses
``TRADE_PENALTY_PCT x (missing share)``, so a set that hardly trades cannot win on a
lucky trade or two (and a set that never trades scores below any that breaks even).

:class:`Objective` is the Optuna objective of one phase: it samples the phase's space from
the config the phase starts from, overlays the parameters (:meth:`Dataset.config`), scores
the scored sessions, reports the running mean after each session (``trial.report``) and
stops when the median pruner says so.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna

from common.config import StrategyConfig
from common.errors import ConfigError
from optimize.dataset import Dataset
from optimize.signal_cache import SignalCache
from optimize.simulator import REFERENCE, Simulator
from optimize.spaces import Infeasible, Phase

log = logging.getLogger(__name__)

TRADE_PENALTY_PCT = 0.5
"""Percent per day taken off a set that does not trade at all (less for one that trades some)."""
MIN_TRADES_PER_SESSION = 1.0
"""The minimum trade count is this many per scored session."""

IN_SAMPLE = "in-sample"
HELD_OUT = "held-out"


@dataclass(frozen=True)
class Score:
    """A config's result over a group of sessions."""

    label: str
    """``in-sample`` or ``held-out``: every printed score says which."""
    daily_pct: tuple[float, ...]
    trades: int
    min_trades: float

    @property
    def mrd_pct(self) -> float:
        """Mean daily net return, % (the backtest's MRD of the same sessions)."""
        return float(np.mean(self.daily_pct)) if self.daily_pct else math.nan

    @property
    def penalty(self) -> float:
        return trade_penalty(self.trades, self.min_trades)

    @property
    def value(self) -> float:
        """The objective: :attr:`mrd_pct` minus the trade-count penalty."""
        return self.mrd_pct - self.penalty

    def describe(self) -> str:
        pen = f", penalty {self.penalty:.4f}" if self.penalty else ""
        return (f"{self.label} {self.value:+.4f} %/day (MRD {self.mrd_pct:+.4f} % over "
                f"{len(self.daily_pct)} sessions, {self.trades} trades{pen})")  # fmt: skip


def trade_penalty(trades: int, min_trades: float) -> float:
    if min_trades <= 0 or trades >= min_trades:
        return 0.0
    return TRADE_PENALTY_PCT * (min_trades - trades) / min_trades


def score(
    cfg: StrategyConfig,
    data: Dataset,
    cache: SignalCache,
    sessions: Sequence[int],
    *,
    label: str = IN_SAMPLE,
    simulator: Simulator = REFERENCE,
    on_session: Callable[[int, float], None] | None = None,
    min_trades_per_session: float = MIN_TRADES_PER_SESSION,
) -> Score:
    """``cfg`` over the grid sessions ``sessions``; ``on_session(i, running mean %)`` after each
    (it may raise to stop, as a pruned trial does)."""
    signals = cache.get(cfg.oes_config)
    daily: list[float] = []
    trades = 0
    for i, day in enumerate(simulator.days(cfg, data.grid, signals, sessions,
                                           liquidity=data.liquidity, costs=data.costs)):  # fmt: skip
        daily.append(float(day.return_pct))
        trades += int(day.trades)
        if on_session is not None:
            on_session(i, float(np.mean(daily)))
    return Score(label, tuple(daily), trades, min_trades_per_session * len(sessions))


class Objective:
    """The Optuna objective of one phase (module docstring)."""

    def __init__(
        self,
        data: Dataset,
        phase: Phase,
        start: Mapping[str, Any],
        cache: SignalCache,
        *,
        simulator: Simulator = REFERENCE,
    ) -> None:
        self.data = data
        self.phase = phase
        self.start = dict(start)
        self.start_cfg = data.config(self.start, "<phase start>")
        self.cache = cache
        self.simulator = simulator

    def params_of(self, trial: optuna.trial.BaseTrial) -> dict[str, Any]:
        """The full dotted-key parameter set of a trial (the phase's start, then its own)."""
        return {**self.start, **self.phase.sample(trial, self.start_cfg)}

    def __call__(self, trial: optuna.Trial) -> float:
        try:
            params = self.params_of(trial)
            cfg = self.data.config(params)
        except (Infeasible, ConfigError) as e:
            trial.set_user_attr("infeasible", str(e))
            raise optuna.TrialPruned(f"infeasible: {e}") from None

        def report(i: int, running: float) -> None:
            trial.report(running, i)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after {i + 1} session(s): running MRD {running:+.4f} %")

        s = score(cfg, self.data, self.cache, self.data.windows.scored_index,
                  simulator=self.simulator, on_session=report)  # fmt: skip
        trial.set_user_attr("params", params)
        trial.set_user_attr("mrd_pct", s.mrd_pct)
        trial.set_user_attr("trades", s.trades)
        trial.set_user_attr("penalty", s.penalty)
        return s.value


__all__ = [
    "HELD_OUT",
    "IN_SAMPLE",
    "MIN_TRADES_PER_SESSION",
    "TRADE_PENALTY_PCT",
    "Objective",
    "Score",
    "score",
    "trade_penalty",
]
