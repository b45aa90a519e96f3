"""The bar type every process speaks, its one validation, and the one constructor of a filled bar.

A bar is validated once, where it enters a process (the stream parser, the REST client,
the CSV readers, the FIFO decoder); :mod:`common.session_grid` applies the grid rule and
:mod:`common.batch_line` holds the FIFO's JSON form.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from common.calendar import MINUTE_MS


class BarError(ValueError):
    """A bar whose values cannot be true (non-finite, non-positive price, high < low...)."""


@dataclass(frozen=True, slots=True)
class Bar:
    """One minute of one symbol. ``t`` is the minute's start in Unix milliseconds (UTC)."""

    symbol: str
    t: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    vwap: float | None = None
    trade_count: int | None = None
    filled: bool = False

    def validate(self) -> Bar:
        """Return self, or raise BarError naming the symbol, minute and bad field."""
        for name in ("open", "high", "low", "close"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                raise BarError(f"{self.symbol} t={self.t}: {name}={v!r} is not a positive finite price")
        if not (math.isfinite(self.volume) and self.volume >= 0):
            raise BarError(f"{self.symbol} t={self.t}: volume={self.volume!r} is not a finite non-negative number")
        if self.vwap is not None and not (math.isfinite(self.vwap) and self.vwap >= 0):
            raise BarError(f"{self.symbol} t={self.t}: vwap={self.vwap!r} is not a finite non-negative number")
        if self.high < self.low:
            raise BarError(f"{self.symbol} t={self.t}: high {self.high} < low {self.low}")
        if self.t % MINUTE_MS:
            raise BarError(f"{self.symbol} t={self.t}: not aligned to a minute")
        return self


def filled_bar(symbol: str, t: int, last_close: float) -> Bar:
    """The session-grid fill: a flat bar at the previous close with no volume."""
    return Bar(symbol, t, last_close, last_close, last_close, last_close, 0.0, last_close, 0, True)
