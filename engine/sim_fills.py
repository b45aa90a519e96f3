"""The shared fill rule (mockmarket's too) over a :class:`~engine.market_grid.MinuteGrid`.

The rule (design.md §7, ledger/fill_prices.py): a market order decided on bar ``t`` —
i.e. sent once bar ``t`` has closed — fills at the OPEN of bar ``t + 1``, the minute in
progress when it reaches the broker; a symbol with no bar in that minute fills at the last
close before it. The price then moves ``slippage_bps`` against the taker (buys pay more,
sells get less), rounded to $0.0001, and a fee of ``fee_per_share`` (in cents) is paid.

The prices are computed by the ledger's functions, which mockmarket's broker uses too
(:func:`ledger.fill_prices.open_price` and :func:`~ledger.fill_prices.slipped`) reading the grid
through :class:`GridPrices`, mockmarket's ``PriceSource`` view: a real grid bar is the
market's bar, a filled one is "no bar this minute", and the last close before a minute is
the grid's close of the minute before (a filled bar carries the last real close). So a
backtest fill and a mock fill of the same order get the same price to the cent.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from common.bars import MINUTE_MS, Bar
from engine.market_grid import MinuteGrid
from ledger.fill_prices import open_price, slipped


class GridPrices:
    """mockmarket's ``PriceSource`` (``bar_at``, ``last_bar_before``) over a grid."""

    def __init__(self, grid: MinuteGrid) -> None:
        self.grid = grid
        self.symbols = grid.symbols
        self._row = {s: i for i, s in enumerate(grid.symbols)}

    def has_symbol(self, symbol: str) -> bool:
        return symbol in self._row

    def _bar(self, i: int, n: int, filled: bool) -> Bar:
        g = self.grid
        return Bar(
            self.symbols[i],
            int(g.t_ms[n]),
            float(g.open[i, n]),
            float(g.high[i, n]),
            float(g.low[i, n]),
            float(g.close[i, n]),
            float(g.volume[i, n]),
            filled=filled,
        )

    def bar_at(self, symbol: str, t_ms: int) -> Bar | None:
        """The real bar of ``symbol`` at ``t_ms`` (None if filled, absent or off the grid)."""
        i = self._row.get(symbol)
        n = self.grid.find(t_ms)
        if i is None or n is None or not self.grid.real[i, n]:
            return None
        return self._bar(i, n, False)

    def last_bar_before(self, symbol: str, t_ms: int) -> Bar | None:
        """A bar carrying the last close before ``t_ms`` (the grid minute before it)."""
        i = self._row.get(symbol)
        if i is None:
            return None
        n = int(np.searchsorted(self.grid.t_ms, int(t_ms))) - 1
        if n < 0 or not self.grid.present[i, n]:
            return None
        return self._bar(i, n, bool(self.grid.filled[i, n]))


def fill_minute(decided_t_ms: int) -> int:
    """The minute an order decided on bar ``decided_t_ms`` fills in: the next one."""
    return int(decided_t_ms) + MINUTE_MS


def fill_price(
    prices: GridPrices, symbol: str, side: str, decided_t_ms: int, slippage_bps: Decimal
) -> Decimal | None:
    """The price of a market order decided on bar ``decided_t_ms`` (None: no price known)."""
    if side not in ("buy", "sell"):
        raise ValueError(f"side={side!r} is not buy or sell")
    base = open_price(prices, symbol, fill_minute(decided_t_ms))
    return None if base is None else slipped(base, side, slippage_bps)


__all__ = ["GridPrices", "fill_minute", "fill_price"]
