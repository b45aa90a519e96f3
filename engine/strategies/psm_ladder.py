"""The PSM states, their allocations, and the one probability ladder (design.md §7).

Backtest and live both call :meth:`Ladder.state_for`; there is no second copy. With buy
threshold b, sell threshold s (b > s) and offsets o1 < o2 the bands partition every
probability, with no hole:

=======================  ================
p >= b+o2                SPXL_ONLY
b+o1 <= p < b+o2         BASE_BULL_3X
b <= p < b+o1            SPY_ONLY
s < p < b                CASH_ONLY
s−o1 < p <= s            SH_ONLY
s−o2 < p <= s−o1         BASE_BEAR_2X
p <= s−o2                SDS_ONLY
=======================  ================
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from common.config import PsmStrategyConfig


class PsmState(StrEnum):
    CASH_ONLY = "CASH_ONLY"
    SPY_ONLY = "SPY_ONLY"
    SPXL_ONLY = "SPXL_ONLY"
    BASE_BULL_3X = "BASE_BULL_3X"
    SH_ONLY = "SH_ONLY"
    SDS_ONLY = "SDS_ONLY"
    BASE_BEAR_2X = "BASE_BEAR_2X"


ALLOCATIONS: dict[PsmState, dict[str, float]] = {
    PsmState.CASH_ONLY: {},
    PsmState.SPY_ONLY: {"SPY": 1.0},
    PsmState.SPXL_ONLY: {"SPXL": 1.0},
    PsmState.BASE_BULL_3X: {"SPY": 0.5, "SPXL": 0.5},
    PsmState.SH_ONLY: {"SH": 1.0},
    PsmState.SDS_ONLY: {"SDS": 1.0},
    PsmState.BASE_BEAR_2X: {"SH": 0.5, "SDS": 0.5},
}


LEVERAGE: dict[str, float] = {"SPY": 1.0, "SPXL": 3.0, "SH": -1.0, "SDS": -2.0}
"""Each PSM symbol's daily leverage on the S&P 500 (what its return is, per unit of SPY's)."""


def state_leverage(state: PsmState | str, signal_symbol: str) -> float:
    """The state's return per unit of ``signal_symbol``'s return (0 for CASH_ONLY)."""
    base = LEVERAGE[signal_symbol]
    return sum(w * LEVERAGE[s] for s, w in ALLOCATIONS[PsmState(state)].items()) / base


def recognize(held: Iterable[str]) -> PsmState | None:
    """The state whose symbols are exactly ``held`` (long positions), or None if none is."""
    s = frozenset(held)
    for state, alloc in ALLOCATIONS.items():
        if frozenset(alloc) == s:
            return state
    return None


@dataclass(frozen=True, slots=True)
class Ladder:
    """Probability → PSM state. Build with :meth:`from_config`."""

    buy: float
    sell: float
    offset1: float
    offset2: float

    def __post_init__(self) -> None:
        if not (self.buy > self.sell and 0 < self.offset1 < self.offset2):
            raise ValueError(
                f"ladder needs buy > sell and 0 < offset1 < offset2, got buy={self.buy} "
                f"sell={self.sell} offsets=({self.offset1}, {self.offset2})"
            )

    @classmethod
    def from_config(cls, cfg: PsmStrategyConfig) -> Ladder:
        o1, o2 = cfg.psm_config.ladder_offsets
        return cls(cfg.oes_config.buy_threshold, cfg.oes_config.sell_threshold, o1, o2)

    def boundaries(self) -> dict[str, float]:
        """The six band edges, as the exact floats :meth:`state_for` compares against.

        Sums are rounded to 12 decimals so that 0.55 + 0.05 is the 0.6 a person reads in
        the config (binary floating point would make it 0.6000000000000001).
        """
        return {
            "bull2": round(self.buy + self.offset2, 12),
            "bull1": round(self.buy + self.offset1, 12),
            "buy": self.buy,
            "sell": self.sell,
            "bear1": round(self.sell - self.offset1, 12),
            "bear2": round(self.sell - self.offset2, 12),
        }

    def state_for(self, p: float) -> PsmState:
        """The target state of probability ``p``; ValueError for NaN."""
        if math.isnan(p):
            raise ValueError("probability is NaN")
        e = self.boundaries()
        if p >= e["buy"]:
            if p >= e["bull2"]:
                return PsmState.SPXL_ONLY
            if p >= e["bull1"]:
                return PsmState.BASE_BULL_3X
            return PsmState.SPY_ONLY
        if p > e["sell"]:
            return PsmState.CASH_ONLY
        if p > e["bear1"]:
            return PsmState.SH_ONLY
        if p > e["bear2"]:
            return PsmState.BASE_BEAR_2X
        return PsmState.SDS_ONLY
