"""Turning equity and weights into whole-share quantities.

The capital a strategy sizes from is ``capital_fraction × min(equity, allocated_capital)``
(the account's equity, capped by the capital allocated to the strategy when one is set),
never a figure derived from some other symbol's price.
"""

from __future__ import annotations

import math

from common.config import RiskConfig


def trading_capital(equity: float, risk: RiskConfig) -> float:
    """Dollars the strategy may allocate (0 when equity is not positive)."""
    if not math.isfinite(equity):
        raise ValueError(f"equity={equity!r} is not finite")
    base = equity if risk.allocated_capital is None else min(equity, risk.allocated_capital)
    return max(0.0, base * risk.capital_fraction)


def whole_shares(dollars: float, price: float) -> int:
    """Shares of ``price`` that ``dollars`` buys, rounded down; ValueError for a bad price."""
    if not (math.isfinite(price) and price > 0):
        raise ValueError(f"price={price!r} is not a positive finite number")
    if not math.isfinite(dollars) or dollars <= 0:
        return 0
    return int(math.floor(dollars / price + 1e-9))
