"""A synthetic market for the backtest's unit tests, and a mock replay on mockmarket's broker.

``market``: every synthetic symbol over five sessions ending on the half day 2025-11-28,
written once per test session as ``{SYMBOL}_RTH_NH.csv``; ``thinned``: a copy of it with
some symbols' bars removed on a day.

``broker_replay(cfg, market_dir, day, warmup)``: what the live engine does with a day,
minus the processes: mockmarket's real :class:`~mockmarket.broker.PaperBroker` with the
config's cost model on a paused simulated clock; for each minute the clock moves to just
after the bar closed (the broker's minute loop runs: resting orders fill), the minute's
bars come from the market store as REST serves them, the signals go through the live
:class:`~engine.signals.SignalEngine` (warmed up on the sessions before), the shared
:class:`~engine.decision.DecisionStep` decides from the broker's account, positions and
open orders (pending) JSON, the plan's cancels are sent, and the orders are submitted to
the broker — at the end of day every open order canceled, then every position flattened,
as the engine's end of day does. Returns the broker's orders (JSON) and final account.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from common.bars import MINUTE_MS
from common.calendar import Session, ny_datetime, nyse, parse_rfc3339, to_ms
from common.config import StrategyConfig
from common.csvfiles import history_path, read_history, write_history
from common.session_grid import GridFiller
from engine.cost_estimates import round_trip_costs
from engine.decision import DecisionStep, flatten_plan
from engine.market_grid import load_sessions
from engine.signals import SignalEngine
from engine.sim_liquidity import SessionLiquidity, grid_figures
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


@pytest.fixture
def thinned(market: Market, tmp_path: Path) -> Callable[..., Market]:
    """``thinned(day, symbols, every, stop)``: ``market`` with, on ``day``, each of ``symbols``
    keeping only the bars of every ``every``-th minute before ``stop`` (HH:MM) — minutes
    without a bar, where market orders rest."""

    def make(day: date, symbols: Sequence[str], every: int, stop: str) -> Market:
        root = tmp_path / f"thinned_{day:%Y%m%d}_{every}_{stop.replace(':', '')}"
        shutil.copytree(market.directory, root)
        s = nyse().session(day)
        cut = to_ms(ny_datetime(day, stop))
        for sym in symbols:
            path = history_path(root / "equities", sym)
            kept = [
                b
                for b in read_history(path, sym)
                if not s.open_ms <= b.t < s.close_ms
                or (b.t < cut and (b.t - s.open_ms) // MINUTE_MS % every == 0)
            ]
            path.unlink()
            write_history(path, kept)
        return Market(root, market.sessions)

    return make


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


def _pending(open_orders: list[dict[str, Any]]) -> dict[str, float]:
    """Signed quantity the open orders still have to fill, by symbol (the engine's pending)."""
    out: dict[str, float] = {}
    for o in open_orders:
        left = float(o["qty"]) - float(o["filled_qty"])
        out[o["symbol"]] = out.get(o["symbol"], 0.0) + (left if o["side"] == "buy" else -left)
    return out


def broker_replay(cfg: StrategyConfig, market_dir: Path, day: date, warmup: int) -> Replay:
    cal = nyse()
    session = cal.session(day)
    store = MarketStore.load(market_dir / "equities", day, symbols=list(cfg.symbols))
    clock = SimClock(session.open_ms - MINUTE_MS, paused=True)
    broker = PaperBroker(
        clock,
        store,
        Faults(),
        Counters(),
        cash=cfg.backtest.starting_cash,
        costs=CostModel.from_config(cfg.costs),
    )
    signals = SignalEngine(cfg.symbols, cfg.oes_config)
    warm = load_sessions(cfg.symbols, cal.sessions_before(day, warmup), market_dir / "equities")
    signals.warm_up(warm)
    feed = GridFiller(cfg.symbols, warm.last_closes())  # the live feed's grid rule
    strategy = make_strategy(cfg)
    # the live warm-up's round-trip cost estimates: liquidity over the sessions before
    # (the broker's figure), prices at yesterday's close
    figures = grid_figures(warm, range(len(warm.sessions)))
    liquidity = SessionLiquidity(figures, cfg.costs.liquidity_sessions, cal).on(session, cfg.symbols)
    step = DecisionStep(strategy, cfg, session, signal_engine=signals,
                        round_trip_costs=round_trip_costs(cfg.costs, warm.last_closes(), liquidity))  # fmt: skip
    halted = eod_done = False
    for t in session.minutes():
        clock.set_time(t + MINUTE_MS + 500)  # bar t has closed; minute t+1 is in progress
        broker.on_minute(t + MINUTE_MS)
        real = {b.symbol: b for b in store.bars_at_minute(t)}
        minute = feed.fill(t, real, "backfill")
        sig = step.signals(minute)
        account = broker.account()
        positions = broker.positions()
        open_orders = broker.list_orders({"status": "open", "limit": "500"})
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
            pending=_pending(open_orders),
            halted=halted,
        )
        halted = halted or res.plan.halted
        if not res.orders_allowed:
            continue
        plan = res.plan
        if res.is_eod and not eod_done:  # the engine's end of day: cancel, then flatten
            eod_done = True
            for o in open_orders:
                broker.cancel_order(o["id"])
            held = {p["symbol"]: float(p["qty"]) for p in positions}
            plan = flatten_plan(strategy.name, t, held, minute.closes, step.guard)
        else:
            for o in open_orders:
                if (o["symbol"], o["side"]) in plan.cancels:
                    broker.cancel_order(o["id"])
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
