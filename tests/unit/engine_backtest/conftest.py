"""A synthetic market for the backtest's unit tests, and a mock replay on mockmarket's broker.

``market``: every synthetic symbol over five sessions ending on the half day 2025-11-28,
written once per test session as ``{SYMBOL}_RTH_NH.csv``.

``broker_replay(cfg, market_dir, day, warmup)``: what the live engine does with a day,
minus the processes: mockmarket's real :class:`~mockmarket.broker.PaperBroker` on a paused
simulated clock; for each minute the clock moves to just after the bar closed (the
broker's minute loop runs), the minute's bars come from the market store as REST serves
them, the signals go through the live :class:`~engine.signals.SignalEngine` (warmed up on
the sessions before), the shared :class:`~engine.decision.DecisionStep` decides from the
broker's account and positions JSON, and the orders are submitted to the broker — the
end-of-day flatten included. Returns the broker's orders (JSON) and final account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from common.bars import MINUTE_MS
from common.calendar import Session, nyse, parse_rfc3339, to_ms
from common.config import StrategyConfig
from common.session_grid import GridFiller
from engine.decision import DecisionStep, flatten_plan
from engine.market_grid import load_sessions
from engine.signals import SignalEngine
from engine.strategies import Holding, make_strategy
from ledger.costs import CostModel
from mockmarket.broker import PaperBroker
from mockmarket.clock import SimClock
from mockmarket.counters import Counters
from mockmarket.faults import Faults
from mockmarket.store import MarketStore
from mockmarket.synthetic import SyntheticConfig, market_sessions, write_market

LAST = date(2025, 11, 28)  # a half day


@dataclass(frozen=True)
class Market:
    directory: Path
    sessions: list[Session]


@pytest.fixture(scope="session")
def market(tmp_path_factory: pytest.TempPathFactory) -> Market:
    cfg = SyntheticConfig(seed=23, sessions=5, end_date=LAST, signal_strength=0.25)
    root = tmp_path_factory.mktemp("market")
    write_market(root / "equities", cfg)
    return Market(root, market_sessions(cfg))


@dataclass
class Replay:
    orders: list[dict[str, Any]]
    account: dict[str, Any]
    positions: list[dict[str, Any]]

    def fills(self) -> list[tuple[str, str, str, float, float, int]]:
        """(client_order_id, symbol, side, qty, price, fill minute) of every filled order."""
        out = []
        for o in self.orders:
            if float(o["filled_qty"]) > 0:
                t = to_ms(parse_rfc3339(o["filled_at"]))
                out.append(
                    (
                        o["client_order_id"],
                        o["symbol"],
                        o["side"],
                        float(o["filled_qty"]),
                        float(o["filled_avg_price"]),
                        t - t % MINUTE_MS,
                    )
                )
        return sorted(out, key=lambda x: (x[5], x[0]))


def broker_replay(cfg: StrategyConfig, market_dir: Path, day: date, warmup: int) -> Replay:
    cal = nyse()
    session = cal.session(day)
    store = MarketStore.load(market_dir / "equities", day, symbols=list(cfg.symbols))
    clock = SimClock(session.open_ms - MINUTE_MS, paused=True)
    # The backtest applies the pre-cost fill rule (slippage and a fee per share) until it is
    # wired to ledger.costs: the broker does the same.
    broker = PaperBroker(
        clock,
        store,
        Faults(),
        Counters(),
        cash=cfg.backtest.starting_cash,
        costs=CostModel.legacy(cfg.costs.slippage_bps, cfg.costs.fee_per_share),
    )
    signals = SignalEngine(cfg.symbols, cfg.oes_config)
    warm = load_sessions(cfg.symbols, cal.sessions_before(day, warmup), market_dir / "equities")
    signals.warm_up(warm)
    feed = GridFiller(cfg.symbols, warm.last_closes())  # the live feed's grid rule
    strategy = make_strategy(cfg)
    step = DecisionStep(strategy, cfg, session, signal_engine=signals)
    halted = eod_done = False
    for t in session.minutes():
        clock.set_time(t + MINUTE_MS + 500)  # bar t has closed; minute t+1 is in progress
        broker.on_minute(t + MINUTE_MS)
        real = {b.symbol: b for b in store.bars_at_minute(t)}
        minute = feed.fill(t, real, "backfill")
        sig = step.signals(minute)
        account = broker.account()
        positions = broker.positions()
        holdings = {
            p["symbol"]: Holding(int(round(float(p["qty"]))), float(p["avg_entry_price"]))
            for p in positions
        }
        res = step.decide(
            minute,
            sig,
            holdings=holdings,
            cash=float(account["cash"]),
            start_equity=float(account["last_equity"]),
            halted=halted,
        )
        halted = halted or res.plan.halted
        if not res.orders_allowed:
            continue
        plan = res.plan
        if res.is_eod and not eod_done:
            eod_done = True
            held = {p["symbol"]: float(p["qty"]) for p in positions}
            plan = flatten_plan(strategy.name, t, held, minute.closes, step.guard)
        for o in plan.orders:
            broker.submit(
                {
                    "symbol": o.symbol,
                    "qty": o.qty,
                    "side": o.side,
                    "type": "market",
                    "time_in_force": "day",
                    "client_order_id": o.client_order_id,
                }
            )
    clock.set_time(session.close_ms + MINUTE_MS)
    broker.on_minute(session.close_ms)
    orders = broker.list_orders({"status": "all", "limit": "500", "direction": "asc"})
    return Replay(orders, broker.account(), broker.positions())


@pytest.fixture
def replay():
    return broker_replay
