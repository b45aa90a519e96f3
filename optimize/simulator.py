"""The seam between a trial and the per-minute decision-and-fill simulation.

A trial asks one thing: the sessions of a config decided and filled on signals already
computed, one session at a time (so it can report each to the pruner and stop early).
:class:`Simulator` is that call; :data:`REFERENCE` runs it with the backtest itself
(:func:`engine.backtest.simulate_days`: the live strategy code, mockmarket's fill rule
and costs). The optimizer's default is the compiled loop behind the same call
(:data:`optimize.compiled_simulator.COMPILED`, ``engine_core/decision_loop.pyx``): it gives
the same orders, fills and daily returns (``tests/unit/optimize/test_compiled_simulator.py``)
and hands whatever it does not model to this reference; ``python -m engine backtest``
stays the reference it is tested against.

What a simulator yields per session is anything with ``return_pct`` (the session's net
return, % of its start equity) and ``trades`` (round trips closed) —
:class:`engine.backtest_result.DayResult` has both.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from common.config import StrategyConfig
from engine.backtest import simulate_days
from engine.market_grid import MinuteGrid
from engine.signals import BatchSignals
from engine.sim_liquidity import SessionLiquidity
from ledger.costs import CostModel


class SessionScore(Protocol):
    @property
    def return_pct(self) -> float: ...

    @property
    def trades(self) -> int: ...


class Simulator(Protocol):
    name: str

    def days(
        self,
        cfg: StrategyConfig,
        grid: MinuteGrid,
        signals: BatchSignals,
        sessions: Sequence[int],
        *,
        liquidity: SessionLiquidity,
        costs: CostModel,
    ) -> Iterator[SessionScore]:
        """Decide and fill the grid sessions ``sessions`` (ascending) one at a time, one
        account across them, as :func:`engine.backtest.simulate` does."""
        ...


class ReferenceSimulator:
    """The backtest's own loop (:func:`engine.backtest.simulate_days`)."""

    name = "reference (engine.backtest)"

    def days(
        self,
        cfg: StrategyConfig,
        grid: MinuteGrid,
        signals: BatchSignals,
        sessions: Sequence[int],
        *,
        liquidity: SessionLiquidity,
        costs: CostModel,
    ) -> Iterator[SessionScore]:
        return simulate_days(cfg, grid, signals, sessions, liquidity=liquidity, costs=costs)


REFERENCE = ReferenceSimulator()

__all__ = ["REFERENCE", "ReferenceSimulator", "SessionScore", "Simulator"]
