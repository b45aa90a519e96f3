"""Paper-broker arithmetic shared by mockmarket's broker and the engine's backtest.

Exact decimal money (:mod:`ledger.money`), cash and positions moved by executions
(:mod:`ledger.portfolio`) and where a fill's price comes from (:mod:`ledger.fill_prices`).
Depends only on :mod:`common`, so the engine (and the optimizer) never import the test
market to simulate a fill.
"""
