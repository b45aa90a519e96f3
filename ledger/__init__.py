"""Paper-broker arithmetic shared by mockmarket's broker and the engine's backtest.

Exact decimal money (:mod:`ledger.money`), cash and positions moved by executions
(:mod:`ledger.portfolio`), where a fill's price comes from (:mod:`ledger.fill_prices`,
:mod:`ledger.no_bar_rule` for a minute without a bar) and what it costs
(:mod:`ledger.costs`: the half-spread of :mod:`ledger.spread` for the symbol's
:mod:`ledger.liquidity`, slippage, and the fees of :mod:`ledger.fees`). Depends only on
:mod:`common`, so the engine (and the optimizer) never import the test market to
simulate a fill, and nothing about a fill's cost is computed twice.
"""
