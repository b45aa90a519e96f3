"""The hold baseline of a backtested session: what simply holding the strategy's symbols made.

The same account as the strategy's, on the same fill rule and costs (:mod:`engine.sim_fills`,
:class:`engine.sim_account.SimAccount`): with the session's start equity, buy equal dollar
amounts of every symbol (start equity / number of symbols, whole shares at the close of
the session's first minute; a symbol without a price then is left out) with orders decided
on the first bar, and sell everything with orders decided on the strategy's end-of-day bar
(a buy still resting then is canceled first, as the engine's end of day does). Orders
that meet minutes without a bar rest as the strategy's do, and anything still working at
the close fills at the session's last price. The figures are a :class:`PnL` of the session,
so the report sets the strategy's gross, costs and net beside a passive position's.
"""

from __future__ import annotations

from engine.backtest_result import PnL, costs_of
from engine.market_grid import MinuteGrid
from engine.order_plan import PlannedOrder
from engine.sim_account import SimAccount, SimFill
from engine.sim_fills import SessionMarket


def hold_baseline(
    grid: MinuteGrid, k: int, market: SessionMarket, start_equity: float, sell_at: int
) -> PnL | None:
    """The hold baseline of session ``k`` selling on grid minute ``sell_at`` (None: nothing
    to buy, or a session too short to buy and sell in)."""
    minutes = grid.session_range(k)
    first = minutes.start
    if not first < sell_at < minutes.stop - 1 or start_equity <= 0:
        return None
    closes = grid.last_closes(first)
    budget = start_equity / len(grid.symbols)
    day = grid.sessions[k].date.isoformat()
    buys = [
        PlannedOrder(s, "buy", q, f"hold-{day}-{s}-b", False, "hold baseline")
        for s in grid.symbols
        if s in closes and (q := int(budget // closes[s])) > 0
    ]
    if not buys:
        return None
    acct = SimAccount(start_equity, market.model)
    fills: list[SimFill] = []
    done, _ = acct.submit(buys, first, market)
    fills += done
    for n in range(first + 2, sell_at + 2):  # the broker's minutes up to the sell's decision
        fills += acct.start_minute(n, market)
    acct.cancel()
    sells = [
        PlannedOrder(s, "sell", q, f"hold-{day}-{s}-s", True, "hold baseline")
        for s, q in acct.positions().items()
    ]
    done, _ = acct.submit(sells, sell_at, market)
    fills += done
    for n in range(sell_at + 2, minutes.stop):
        fills += acct.start_minute(n, market)
    fills += acct.close_session(market)
    end = acct.equity(grid.last_closes(minutes.stop - 1))
    return PnL(start_equity, end, costs_of(fills), sum(f.traded_value for f in fills))


__all__ = ["hold_baseline"]
