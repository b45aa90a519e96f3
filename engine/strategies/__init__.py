"""Strategies behind one interface (:class:`engine.strategies.base.Strategy`).

``make_strategy(config)`` builds the strategy a validated config describes; both the live
engine and the backtest call it, so they run the same decision code. It is the only place
outside a strategy's own modules that names a concrete strategy.
"""

from __future__ import annotations

from common.config import PsmStrategyConfig, RotationStrategyConfig, StrategyConfig
from engine.strategies.base import (
    BrokerHoldings,
    Decision,
    Holding,
    MinuteInput,
    Recognition,
    Signal,
    StateError,
    Strategy,
    Takeover,
)
from engine.strategies.psm import PsmStrategy
from engine.strategies.psm_ladder import ALLOCATIONS, Ladder, PsmState, recognize
from engine.strategies.rotation import RotationStrategy, Slot
from engine.strategies.session_minute import SessionMinute, minute_input, session_minute


def make_strategy(config: StrategyConfig) -> Strategy:
    """The strategy for a loaded config (``load_strategy_config``)."""
    if isinstance(config, RotationStrategyConfig):
        return RotationStrategy(config)
    if isinstance(config, PsmStrategyConfig):
        return PsmStrategy(config)
    raise TypeError(f"not a strategy config: {type(config).__name__}")


__all__ = [
    "ALLOCATIONS",
    "BrokerHoldings",
    "Decision",
    "Holding",
    "Ladder",
    "MinuteInput",
    "PsmState",
    "PsmStrategy",
    "Recognition",
    "RotationStrategy",
    "SessionMinute",
    "Signal",
    "Slot",
    "StateError",
    "Strategy",
    "Takeover",
    "make_strategy",
    "minute_input",
    "recognize",
    "session_minute",
]
