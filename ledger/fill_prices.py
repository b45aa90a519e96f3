"""Where the paper broker's prices come from (design.md §9, alpaca-protocol.md §3).

- A market order fills at the OPEN of the minute in progress. A minute with no bar for
  its symbol follows :mod:`ledger.no_bar_rule` (the order rests until the symbol's next
  bar; the pre-cost rule filled it at once at the last close: :func:`open_price`).
- The taker pays the half-spread and ``slippage_bps`` over that reference price (buys pay
  more, sells get less): :func:`taker_price`, rounded once to $0.0001; the half-spread
  comes from :mod:`ledger.spread`, the whole per-fill computation from :mod:`ledger.costs`.
  A limit order never fills beyond its limit.
- Positions are marked at the close of the last CLOSED minute.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from common.bars import Bar
from common.calendar import floor_minute
from ledger.money import BPS, ZERO, price_of, round_price


class PriceSource(Protocol):
    """What the broker reads from the market data (C's ``MarketStore`` implements it)."""

    symbols: tuple[str, ...]

    def bar_at(self, symbol: str, t_ms: int) -> Bar | None: ...

    def last_bar_before(self, symbol: str, t_ms: int) -> Bar | None: ...

    def has_symbol(self, symbol: str) -> bool: ...


def bar_open(prices: PriceSource, symbol: str, minute_ms: int) -> Decimal | None:
    """The open of ``symbol``'s bar in minute ``minute_ms`` (None: no bar that minute)."""
    bar = prices.bar_at(symbol, minute_ms)
    return None if bar is None else price_of(bar.open)


def open_price(prices: PriceSource, symbol: str, minute_ms: int) -> Decimal | None:
    """The minute's open, else the last close before it (the pre-cost rule for a market
    order; still the price at which the broker values an order for buying power)."""
    bar = prices.bar_at(symbol, minute_ms)
    if bar is not None:
        return price_of(bar.open)
    before = prices.last_bar_before(symbol, minute_ms)
    return None if before is None else price_of(before.close)


def mark_price(prices: PriceSource, symbol: str, now_ms: int) -> Decimal | None:
    """Close of the last minute that has closed by ``now_ms`` (None if there is none)."""
    bar = prices.last_bar_before(symbol, floor_minute(now_ms))
    return None if bar is None else price_of(bar.close)


def close_before(prices: PriceSource, symbol: str, t_ms: int) -> Decimal | None:
    """Close of the latest bar starting before ``t_ms`` (e.g. a session's closing price)."""
    bar = prices.last_bar_before(symbol, t_ms)
    return None if bar is None else price_of(bar.close)


def taker_price(
    reference: Decimal, side: str, half_spread: Decimal, slippage_bps: Decimal
) -> Decimal:
    """What a taker pays (buy) or gets (sell): ``reference ± (half_spread + reference ×
    slippage_bps / 10 000)``, rounded to $0.0001 (exactly ``reference`` when both are zero)."""
    if side not in ("buy", "sell"):
        raise ValueError(f"side={side!r} is not buy or sell")
    move = half_spread + reference * slippage_bps / BPS
    if move == ZERO:
        return reference
    return round_price(reference + move if side == "buy" else reference - move)


def slipped(price: Decimal, side: str, slippage_bps: Decimal) -> Decimal:
    """``price`` moved ``slippage_bps`` against the taker, rounded to $0.0001 (no spread)."""
    return taker_price(price, side, ZERO, slippage_bps)


def within_limit(price: Decimal, side: str, limit: Decimal | None) -> Decimal:
    """Clamp a fill price so a limit order never trades beyond its limit."""
    if limit is None:
        return price
    return min(price, limit) if side == "buy" else max(price, limit)


def marketable(price: Decimal, side: str, limit: Decimal | None) -> bool:
    """Would a limit order trade at ``price``? (Market orders always would.)"""
    if limit is None:
        return True
    return price <= limit if side == "buy" else price >= limit


def bar_touches(bar: Bar, side: str, limit: Decimal) -> bool:
    """Did the minute ``bar`` trade through a resting limit (buy: low ≤ limit; sell: high ≥ limit)?"""
    return price_of(bar.low) <= limit if side == "buy" else price_of(bar.high) >= limit
