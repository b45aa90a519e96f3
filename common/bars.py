"""The bar type every process speaks (its FIFO JSON form too), and the one constructor of a filled bar.

The session-grid rule that fills gaps is :mod:`common.session_grid`.
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
        if self.high < self.low:
            raise BarError(f"{self.symbol} t={self.t}: high {self.high} < low {self.low}")
        if self.t % MINUTE_MS:
            raise BarError(f"{self.symbol} t={self.t}: not aligned to a minute")
        return self

    def to_json(self) -> dict:
        """The FIFO protocol's per-symbol object (design.md §3)."""
        return {
            "symbol": self.symbol,
            "open": self.open,
            "high": self.high,
            "low": self.low,
            "close": self.close,
            "volume": self.volume,
            "vwap": self.vwap,
            "trade_count": self.trade_count,
            "filled": self.filled,
        }

    @classmethod
    def from_json(cls, t: int, obj: dict) -> Bar:
        """Parse the FIFO per-symbol object; raises BarError/KeyError/TypeError on bad input."""
        vwap = obj.get("vwap")
        n = obj.get("trade_count")
        return cls(
            symbol=str(obj["symbol"]),
            t=int(t),
            open=float(obj["open"]),
            high=float(obj["high"]),
            low=float(obj["low"]),
            close=float(obj["close"]),
            volume=float(obj["volume"]),
            vwap=None if vwap is None else float(vwap),
            trade_count=None if n is None else int(n),
            filled=bool(obj.get("filled", False)),
        ).validate()


def filled_bar(symbol: str, t: int, last_close: float) -> Bar:
    """The session-grid fill: a flat bar at the previous close with no volume."""
    return Bar(symbol, t, last_close, last_close, last_close, last_close, 0.0, last_close, 0, True)
