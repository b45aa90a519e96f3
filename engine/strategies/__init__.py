"""Strategies behind one interface (:class:`engine.strategies.base.Strategy`).

``make_strategy(config)`` builds the strategy a validated config describes; both the live
engine and the backtest call it, so they run the same decision code.
"""

from __future__ import annotations

from common.config import PsmStrategyConfig, RotationStrategyConfig, StrategyConfig
from engine.strategies.base import Decision, Holding, MinuteInput, Signal, StateError, Strategy
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
    "Decision",
    "Holding",
    "Ladder",
    "MinuteInput",
    "PsmState",
    "PsmStrategy",
    "RotationStrategy",
    "SessionMinute",
    "Signal",
    "Slot",
    "StateError",
    "Strategy",
    "make_strategy",
    "minute_input",
    "recognize",
    "session_minute",
]
