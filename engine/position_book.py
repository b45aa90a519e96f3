"""The engine's own position book: the broker's positions at start-up plus every journaled fill.

The engine compares it with ``GET /v2/positions`` after fills, every few minutes and while
the trade-updates stream is down (:mod:`engine.book_check`); a difference means a fill the
engine did not see (or one it saw twice, or a hand-placed trade). The broker wins: the
difference is logged and journaled, and the book is reset to the broker's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from common.quantities import QTY_EPS


class BrokerPosition(Protocol):
    """What is read of a position (``common.rest_models.Position`` has it)."""

    symbol: str

    @property
    def signed_qty(self) -> float: ...


class Fill(Protocol):
    symbol: str

    @property
    def signed_qty(self) -> float: ...


def signed_positions(positions: Iterable[BrokerPosition]) -> dict[str, float]:
    """``GET /v2/positions`` as signed quantities by symbol (shorts negative), flat ones left out."""
    out: dict[str, float] = {}
    for p in positions:
        q = p.signed_qty
        if abs(q) > QTY_EPS:
            out[p.symbol] = out.get(p.symbol, 0.0) + q
    return out


@dataclass(frozen=True, slots=True)
class Mismatch:
    symbol: str
    book: float
    broker: float

    def __str__(self) -> str:
        return f"{self.symbol}: book {self.book:g}, broker {self.broker:g}"


class PositionBook:
    """Signed quantities by symbol, moved by fills."""

    def __init__(self, positions: Mapping[str, float] | None = None) -> None:
        self._q: dict[str, float] = {}
        self.reset(positions or {})

    def reset(self, positions: Mapping[str, float]) -> None:
        self._q = {s: float(q) for s, q in positions.items() if abs(q) > QTY_EPS}

    def apply(self, fill: Fill) -> None:
        q = self._q.get(fill.symbol, 0.0) + fill.signed_qty
        if abs(q) > QTY_EPS:
            self._q[fill.symbol] = q
        else:
            self._q.pop(fill.symbol, None)

    def quantities(self) -> dict[str, float]:
        return dict(self._q)

    def qty(self, symbol: str) -> float:
        return self._q.get(symbol, 0.0)

    def diff(self, broker: Mapping[str, float]) -> list[Mismatch]:
        """Symbols where the book and the broker disagree, sorted."""
        out = []
        for s in sorted(set(self._q) | set(broker)):
            a, b = self._q.get(s, 0.0), float(broker.get(s, 0.0))
            if abs(a - b) > QTY_EPS:
                out.append(Mismatch(s, a, b))
        return out


__all__ = ["Mismatch", "PositionBook", "signed_positions"]
