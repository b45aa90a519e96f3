"""How liquid a symbol is on a session: its dollar volume per minute in the sessions before.

- A session's figure (:func:`session_dollar_volume`) is Σ close × volume over its bars,
  divided by the session's minutes (390, or 210 on a half day). A minute without a bar
  adds nothing, so a thin symbol's missing minutes count against it; a grid-filled minute
  (volume 0) adds nothing either, so a grid and the bars it was filled from give the
  same figure.
- A symbol's liquidity on a session (:func:`liquidity`) is the median of that figure over
  the ``n`` sessions before it. A session without a single bar of the symbol is left out
  (the history starts later, or a data gap: no figure, rather than a zero that would drag
  the median to the widest spread); None when no session is left. Only earlier sessions
  enter: the figure is fixed at the open, never reads the future, and is computed once
  per symbol and session.

The arithmetic is exact (``Decimal``: closes through :func:`ledger.money.price_of`,
volumes as given), so a sum is the same whatever order or container the bars come in:
mockmarket's broker (bars from its store, :func:`history_liquidity`) and a backtest (a
minute grid's arrays) get the very same number.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Protocol

from common.bars import Bar
from common.calendar import Session, TradingCalendar
from ledger.money import ZERO, price_of


class BarHistory(Protocol):
    """Bars of the sessions before the traded one (mockmarket's ``MarketStore`` implements it)."""

    def bars_between(self, symbol: str, start_ms: int, end_ms: int) -> Sequence[Bar]:
        """Bars of ``symbol`` starting in ``[start_ms, end_ms)``, ascending."""
        ...


def _volume(v: float) -> Decimal:
    return Decimal(repr(float(v)))


def session_dollar_volume(closes: Iterable[float], volumes: Iterable[float], minutes: int) -> Decimal:
    """Σ close × volume of one session's bars per minute of the session (exact)."""
    if minutes <= 0:
        raise ValueError(f"minutes={minutes!r} must be > 0")
    total = ZERO
    for c, v in zip(closes, volumes, strict=True):
        if v:
            total += price_of(c) * _volume(v)
    return total / minutes


def liquidity(per_session: Sequence[Decimal]) -> Decimal | None:
    """The median of the sessions' dollar volume per minute, empty sessions (0) left out;
    None when none is left."""
    ordered = sorted(x for x in per_session if x > 0)
    if not ordered:
        return None
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def liquidity_window(calendar: TradingCalendar, day: date, n: int) -> list[Session]:
    """The sessions a symbol's liquidity on ``day`` is measured over: the ``n`` before it,
    or as many as the calendar has when it starts later."""
    if n < 1:
        raise ValueError(f"n={n!r} must be >= 1")
    for k in range(n, 0, -1):
        try:
            return calendar.sessions_before(day, k)
        except ValueError:  # the calendar starts less than k sessions earlier
            continue
    return []


def history_liquidity(history: BarHistory, symbol: str, sessions: Sequence[Session]) -> Decimal | None:
    """:func:`liquidity` of ``symbol`` over ``sessions`` (the ones before the traded session)."""
    figures = []
    for s in sessions:
        bars = history.bars_between(symbol, s.open_ms, s.close_ms)
        figures.append(session_dollar_volume((b.close for b in bars), (b.volume for b in bars), s.n_minutes))
    return liquidity(figures)


__all__ = [
    "BarHistory",
    "history_liquidity",
    "liquidity",
    "liquidity_window",
    "session_dollar_volume",
]
