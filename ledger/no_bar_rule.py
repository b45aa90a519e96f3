"""A market order in a minute with no bar for its symbol: it rests until the symbol trades.

The rule (:attr:`NoBarRule.NEXT_BAR`, the default; mockmarket's broker and the backtest
apply it, the latter through :func:`grid_market_fill`):

1. A market order works from the minute it reaches the broker (an order decided on bar
   ``t`` arrives in minute ``t + 1``). It fills in the first minute from then on in which
   its symbol has a bar, at that bar's OPEN, plus costs (:mod:`ledger.costs`).
2. If its symbol has no bar for the rest of the session, it fills at the close, at the
   session's last price (the symbol's last close before the close: that session's last
   bar, or the previous session's close if it never traded), plus costs. So an
   end-of-day flatten never leaves a position overnight, however thin the symbol.

Why: a minute without a bar is a minute in which nobody traded the symbol on the feed.
Its "price" on the session grid is the last close carried forward, a price the decision
has already seen; filling there (the pre-cost rule) hands the strategy a free option on a
stale quote, and in thin names that was 30-44% of fills. The next print is the first
price at which the market really traded after the order arrived, a price the decision did
not see; the half-spread, wider for thin names, stands for crossing the quote. Filling at
the close instead of letting the order expire mirrors what a real market order does (it
trades against the quote, whatever the tape shows) and keeps the end-of-day guarantee.

In mockmarket's broker, orders that must execute at once do not rest: an ioc, fok or
opg market order meeting a minute without a bar is canceled unfilled; cls orders take the
closing price; limit orders are unaffected (they rest anyway).

:attr:`NoBarRule.LAST_CLOSE` is the pre-cost rule (fill at once at the last close before
the minute). The backtest no longer uses it; it stays behind mockmarket's ``--legacy-fills``,
which mockmarket's own tests of the pre-cost rule run on.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

import numpy as np

from ledger.fill_prices import PriceSource, bar_open, close_before, open_price
from ledger.money import price_of


class NoBarRule(StrEnum):
    NEXT_BAR = "next_bar"
    """Rest until the symbol's next bar (its open), else fill at the session's last price."""
    LAST_CLOSE = "last_close"
    """The pre-cost rule: fill at once at the last close before the minute."""


def market_reference(
    prices: PriceSource, symbol: str, minute_ms: int, rule: NoBarRule
) -> Decimal | None:
    """The reference price of a market order working in ``minute_ms`` (None: it rests)."""
    if rule is NoBarRule.LAST_CLOSE:
        return open_price(prices, symbol, minute_ms)
    return bar_open(prices, symbol, minute_ms)


def closing_reference(prices: PriceSource, symbol: str, close_ms: int) -> Decimal | None:
    """The session's last price for a market order still working at ``close_ms``."""
    return close_before(prices, symbol, close_ms)


@dataclass(frozen=True, slots=True)
class GridFill:
    """Where and at what reference price a market order fills on a session grid."""

    index: int
    """Grid minute of the fill (the session's last minute for a fill at the close)."""
    reference: Decimal
    """The bar's open, or the session's last close when ``at_close``; costs come on top."""
    at_close: bool
    """True: no bar after the order arrived; it filled at the close."""


def grid_market_fill(
    real: np.ndarray, open_: np.ndarray, close: np.ndarray, arrival: int
) -> GridFill | None:
    """The :attr:`NoBarRule.NEXT_BAR` rule on one symbol's session grid.

    ``real[i]`` says whether grid minute ``i`` has a real bar, ``open_[i]`` is its open and
    ``close[i]`` its close (a grid-filled minute carries the last close, as the session
    grid of design.md §5 does, so ``close[-1]`` is the session's last price). ``arrival``
    is the minute the order reaches the broker (decided on grid minute ``i``: ``i + 1``).
    None: the order arrives after the session (it works in the next one), or the symbol
    has no price at all.
    """
    real = np.asarray(real, dtype=bool)
    n = len(real)
    if len(open_) != n or len(close) != n:
        raise ValueError(
            f"real, open_ and close must have one entry per grid minute: {n}, {len(open_)}, {len(close)}"
        )
    if arrival < 0:
        raise ValueError(f"arrival={arrival} must be >= 0")
    if arrival >= n:
        return None
    later = np.flatnonzero(real[arrival:])
    if later.size:
        j = arrival + int(later[0])
        return GridFill(j, price_of(float(open_[j])), False)
    last = float(close[n - 1])
    if not np.isfinite(last) or last <= 0:
        return None
    return GridFill(n - 1, price_of(last), True)


__all__ = ["GridFill", "NoBarRule", "closing_reference", "grid_market_fill", "market_reference"]
