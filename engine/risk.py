"""Risk limits applied after the strategy decides (design.md §6, ``risk`` config section).

- Daily loss limit: when equity falls ``daily_loss_limit_pct`` below the session's starting
  equity, everything is flattened and the engine halts for the day.
- Cap per position: an order may not raise a position above ``max_position_pct`` of
  equity (a position already above it after a price move is not forced down).
- Cap on orders per minute: at most ``max_orders_per_minute`` orders a minute; orders that
  reduce a position always go, orders that add risk take what is left.

Equity is valued symbol by symbol (:func:`mark_to_market`): a position is worth its own
last price, else its own entry price — never a price borrowed from another symbol or a
default, which is how the original system once inflated its equity 18-fold.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from common.config import RiskConfig
from engine.strategies.base import Holding


def mark_to_market(
    cash: float, positions: Mapping[str, Holding], prices: Mapping[str, float]
) -> float:
    """Cash plus each position at its own last price (or its own entry price if it has none)."""
    if not math.isfinite(cash):
        raise ValueError(f"cash={cash!r} is not finite")
    total = cash
    for sym, h in positions.items():
        price = prices.get(sym)
        if price is None or not (math.isfinite(price) and price > 0):
            price = h.entry_price
        if not (math.isfinite(price) and price > 0):
            raise ValueError(f"{sym}: no usable price to value {h.qty} shares")
        total += h.qty * price
    return total


def daily_loss_fraction(equity: float, start_equity: float) -> float:
    """Fraction of the starting equity lost today (negative when up)."""
    if not (math.isfinite(start_equity) and start_equity > 0):
        raise ValueError(f"start_equity={start_equity!r} is not a positive finite number")
    if not math.isfinite(equity):
        raise ValueError(f"equity={equity!r} is not finite")
    return (start_equity - equity) / start_equity


@dataclass(frozen=True, slots=True)
class RiskGuard:
    """The ``risk`` section as checks."""

    cfg: RiskConfig

    def loss_breach(self, equity: float, start_equity: float) -> str | None:
        """A reason if the daily loss limit is reached, else None."""
        lost = daily_loss_fraction(equity, start_equity)
        if lost >= self.cfg.daily_loss_limit_pct:
            return (
                f"daily loss limit: equity {equity:.2f} is {lost:.2%} below the day's start "
                f"{start_equity:.2f} (limit {self.cfg.daily_loss_limit_pct:.2%})"
            )
        return None

    def max_shares(self, price: float, equity: float) -> int:
        """The largest position ``max_position_pct`` of equity allows at ``price``."""
        if not (math.isfinite(price) and price > 0):
            raise ValueError(f"price={price!r} is not a positive finite number")
        cap = self.cfg.max_position_pct * max(0.0, equity)
        return int(math.floor(cap / price + 1e-9))

    def cap_target(self, target: int, current: float, price: float, equity: float) -> int:
        """``target`` limited so a buy never lifts the position above the cap."""
        if target <= current:
            return target
        allowed = max(math.floor(current), self.max_shares(price, equity))
        return min(target, allowed)

    def orders_left(self, sent_this_minute: int) -> int:
        """How many more orders this minute allows."""
        return max(0, self.cfg.max_orders_per_minute - sent_this_minute)
