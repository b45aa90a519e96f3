"""Where and at what price a backtest order fills: mockmarket's rule and costs on one session of a grid.

An order decided on bar ``t`` is sent once bar ``t`` has closed and reaches the broker in
minute ``t + 1``. From then on it follows :mod:`ledger.no_bar_rule`
(:func:`~ledger.no_bar_rule.grid_market_fill` on the symbol's session grid): it fills at
the open of the first minute in which its symbol has a real bar; with no bar for the rest
of the session it fills at the close, at the session's last price. Until then it rests
(and counts as pending). What it pays over that reference price (half-spread for the
symbol's liquidity on the session, slippage) is :meth:`ledger.costs.CostModel.execution_price`;
the fees are booked with the fill (:func:`ledger.costs.book_fill`, in
:class:`engine.sim_account.SimAccount`). mockmarket's paper broker applies the very same
functions, so a backtest fill and a mock fill of the same order get the same price.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from common.bars import MINUTE_MS
from common.calendar import Session
from engine.market_grid import MinuteGrid
from ledger.costs import CostModel, ExecutionPrice
from ledger.no_bar_rule import GridFill, grid_market_fill


class SessionMarket:
    """Session ``k`` of ``grid`` as mockmarket's paper broker trades it, under ``model``."""

    def __init__(
        self,
        grid: MinuteGrid,
        k: int,
        model: CostModel,
        liquidity: Mapping[str, Decimal | None],
    ) -> None:
        self.grid = grid
        self.session: Session = grid.sessions[k]
        self.minutes = grid.session_range(k)
        self.model = model
        self.liquidity = dict(liquidity)
        self._row = {s: i for i, s in enumerate(grid.symbols)}

    @property
    def day(self) -> date:
        """The New York trading date (the fees' accrual day)."""
        return self.session.date

    def fill_of(self, symbol: str, arrival: int) -> GridFill | None:
        """Where a market order on ``symbol`` reaching the broker in grid minute ``arrival``
        fills (``index`` a grid minute); None: it cannot (no price, or after the session)."""
        i = self._row.get(symbol)
        lo, hi = self.minutes.start, self.minutes.stop
        if i is None or not lo <= arrival < hi:
            return None
        g = self.grid
        got = grid_market_fill(g.real[i, lo:hi], g.open[i, lo:hi], g.close[i, lo:hi], arrival - lo)
        return None if got is None else GridFill(got.index + lo, got.reference, got.at_close)

    def minute_ms(self, n: int) -> int:
        """Bar start of grid minute ``n`` (one minute after the grid's last for ``n`` past it)."""
        t = self.grid.t_ms
        return int(t[n]) if n < len(t) else int(t[-1]) + MINUTE_MS * (n - len(t) + 1)

    def fill_ms(self, fill: GridFill) -> int:
        """When the fill happens: its minute's start, or the session's close."""
        return self.session.close_ms if fill.at_close else int(self.grid.t_ms[fill.index])

    def quote(self, symbol: str, side: str, reference: Decimal) -> ExecutionPrice:
        """The execution price of a market order on ``side`` at ``reference`` (half-spread
        for the symbol's liquidity on the session, slippage)."""
        return self.model.execution_price(side, reference, self.liquidity.get(symbol))


__all__ = ["SessionMarket"]
