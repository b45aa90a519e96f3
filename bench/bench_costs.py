"""Costs: what the cost model adds to a paper-broker fill, and bid-ask bounce to the generator.

1. Broker: a day of market orders (4 symbols, one buy and one sell a minute each, 3,120
   fills) through :class:`mockmarket.broker.PaperBroker` on a synthetic store, with the
   realistic model (half-spread from liquidity, slippage, daily fee accrual, FillCosts) and
   with ``CostModel.legacy()`` (the reference, same process). Reported: fills/s and the ratio.
2. ``ledger.no_bar_rule.grid_market_fill`` on a thin symbol's 390-minute grid: µs per call.
3. Generator: 15 symbols x 20 sessions with microstructure on and off (the reference).

Run: ``python -m bench costs`` (or ``python bench/bench_costs.py``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np

from bench.timing import best_of
from common.calendar import MINUTE_MS, nyse
from ledger.costs import CostModel
from ledger.no_bar_rule import grid_market_fill
from mockmarket.broker import PaperBroker
from mockmarket.clock import SimClock
from mockmarket.counters import Counters
from mockmarket.faults import Faults
from mockmarket.store import MarketStore
from mockmarket.synthetic import SyntheticConfig, generate_market

LAST = date(2025, 10, 16)
SYMBOLS = ("SPY", "TQQQ", "ERY", "FAZ")


def _broker_day(store: MarketStore, costs: CostModel) -> int:
    session = nyse().session(LAST)
    clock = SimClock(session.open_ms - MINUTE_MS, paused=True)
    broker = PaperBroker(clock, store, Faults(), Counters(), cash=1e9, costs=costs)
    for t in session.minutes():
        clock.set_time(t)
        broker.on_minute(t)
        clock.set_time(t + 1_000)
        for sym in SYMBOLS:
            for side in ("buy", "sell"):
                broker.submit(
                    {"symbol": sym, "qty": "10", "side": side, "type": "market", "time_in_force": "day"}
                )
    clock.set_time(session.close_ms)
    broker.on_minute(session.close_ms)
    return broker.counters.fills


def main() -> None:
    cfg = SyntheticConfig(seed=7, sessions=20, end_date=LAST)
    market = generate_market(replace(cfg, symbols=SYMBOLS))
    store = MarketStore(market, LAST)

    fills = _broker_day(store, CostModel.default())
    t_real = best_of(lambda: _broker_day(store, CostModel.default()), 3)[0]
    t_ref = best_of(lambda: _broker_day(store, CostModel.legacy()), 3)[0]
    print(
        f"broker: {fills} fills in a day; realistic costs {fills / t_real:,.0f} fills/s, "
        f"legacy {fills / t_ref:,.0f} fills/s: ratio {t_real / t_ref:.2f}x the time"
    )

    rng = np.random.default_rng(1)
    real = rng.random(390) < 0.3
    opens = np.round(20 + rng.normal(0, 0.1, 390), 2)
    closes = opens.copy()
    calls = 20_000
    t_grid = best_of(lambda: [grid_market_fill(real, opens, closes, i % 390) for i in range(calls)], 3)[0]
    print(f"grid_market_fill: {t_grid / calls * 1e6:.1f} us per call (390-minute grid, 30% real)")

    t_on = best_of(lambda: generate_market(cfg), 2)[0]
    t_off = best_of(lambda: generate_market(replace(cfg, microstructure=0.0)), 2)[0]
    print(
        f"generator: 15 symbols x 20 sessions: microstructure on {t_on:.2f} s, off {t_off:.2f} s: "
        f"ratio {t_on / t_off:.2f}x"
    )


if __name__ == "__main__":
    main()
