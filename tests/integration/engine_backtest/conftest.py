"""A synthetic market on disk for backtests, and a real mockmarket process to replay a day on.

``market``: every synthetic symbol over eight sessions ending 2025-12-02 (the half day
2025-11-28 inside), written once per test session with ``mockmarket.synthetic.write_market``.

``http_replay(cfg, day, warmup)``: a mock replay of ``day`` over real HTTP. A real
``python -m mockmarket serve`` process with the config's costs replays ``day`` from the
same files, its clock paused and moved by the test. The replay does what the live engine
does with each minute: it downloads the warm-up history over REST into its own data
directory (as the launcher does) and warms a :class:`~engine.signals.SignalEngine` on it;
then for each minute it moves the clock just past the bar's close, fetches the bar over
REST, feeds the live signal path, reads the account, positions and open orders (pending)
over REST, decides with the shared :class:`~engine.decision.DecisionStep`, cancels what
the plan cancels and submits the orders with their client order ids — at the end of day
every open order canceled, then every position flattened, as the engine's end of day
does. It returns the broker's record of the day.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from common.bars import MINUTE_MS
from common.calendar import Session, from_ms, iso_ny, nyse
from common.config import CostsConfig, StrategyConfig
from common.csvfiles import history_path, write_history
from common.env import load_endpoints
from common.quantities import is_flat
from common.rest import AlpacaRestClient
from common.rest_models import Account, Order
from common.session_grid import GridFiller
from engine.cost_estimates import round_trip_costs
from engine.decision import DecisionStep, flatten_plan
from engine.market_grid import load_sessions
from engine.position_book import signed_positions
from engine.signals import SignalEngine
from engine.sim_liquidity import SessionLiquidity, grid_figures, history_figures
from engine.strategies import Holding, make_strategy
from ledger.liquidity import liquidity_window
from mockmarket.cost_options import option_name
from mockmarket.harness import run_market
from mockmarket.synthetic import SyntheticConfig, market_sessions, write_market

LAST = date(2025, 12, 2)


@dataclass(frozen=True)
class Market:
    directory: Path
    """Holds ``equities/{SYMBOL}_RTH_NH.csv``: the backtest's ``data_dir``."""
    sessions: list[Session]


@pytest.fixture(scope="session")
def market(tmp_path_factory: pytest.TempPathFactory) -> Market:
    cfg = SyntheticConfig(seed=31, sessions=8, end_date=LAST, signal_strength=0.25)
    root = tmp_path_factory.mktemp("bt_market")
    write_market(root / "equities", cfg)
    return Market(root, market_sessions(cfg))


@dataclass
class HttpReplay:
    orders: list[Order]
    account: Account
    positions: dict[str, float]

    def fills(self) -> list[tuple[str, str, str, float, float, int]]:
        out = []
        for o in self.orders:
            if o.filled_qty > 0 and o.filled_at is not None and o.filled_avg_price is not None:
                t = int(o.filled_at.timestamp() * 1000)
                out.append(
                    (
                        o.client_order_id,
                        o.symbol,
                        o.side,
                        o.filled_qty,
                        o.filled_avg_price,
                        t - t % MINUTE_MS,
                    )
                )
        return sorted(out, key=lambda x: (x[5], x[0]))


def _download(
    rest: AlpacaRestClient, symbols: tuple[str, ...], sessions: list[Session], out: Path
) -> None:
    got = rest.get_bars(
        symbols, from_ms(sessions[0].open_ms), from_ms(sessions[-1].close_ms - MINUTE_MS)
    )
    for sym, bars in got.items():
        write_history(history_path(out, sym), bars)


def _pending(open_orders: list[Order]) -> dict[str, float]:
    """Signed quantity the open orders still have to fill, by symbol (the engine's pending)."""
    out: dict[str, float] = {}
    for o in open_orders:
        left = (o.qty or 0.0) - o.filled_qty
        out[o.symbol] = out.get(o.symbol, 0.0) + (left if o.side == "buy" else -left)
    return out


def _replay(
    rest: AlpacaRestClient,
    clock: Callable[[int], None],
    cfg: StrategyConfig,
    session: Session,
    warm: list[Session],
    data: Path,
) -> None:
    _download(rest, cfg.symbols, warm, data)
    signals = SignalEngine(cfg.symbols, cfg.oes_config)
    grid = load_sessions(cfg.symbols, warm, data)
    signals.warm_up(grid)
    feed = GridFiller(cfg.symbols, grid.last_closes())  # the live feed's grid rule
    strategy = make_strategy(cfg)
    # the live warm-up's round-trip cost estimates: liquidity over the sessions before (the
    # broker's window, downloaded like a live engine's history), prices at yesterday's close
    cal = nyse()
    figures = grid_figures(grid, range(len(grid.sessions)))
    window = liquidity_window(cal, session.date, cfg.costs.liquidity_sessions)
    older = [w for w in window if w not in warm]
    if older:
        _download(rest, cfg.symbols, older, data.parent / "liquidity")
        for sym in cfg.symbols:
            if not history_path(data.parent / "liquidity", sym).exists():
                write_history(history_path(data.parent / "liquidity", sym), [])
        figures.update(history_figures(cfg.symbols, older, data.parent / "liquidity"))
    liquidity = SessionLiquidity(figures, cfg.costs.liquidity_sessions, cal).on(session, cfg.symbols)
    step = DecisionStep(strategy, cfg, session, signal_engine=signals,
                        round_trip_costs=round_trip_costs(cfg.costs, grid.last_closes(), liquidity))  # fmt: skip
    halted = eod_done = False
    for t in session.minutes():
        clock(t + MINUTE_MS + 500)
        got = rest.get_bars(cfg.symbols, from_ms(t), from_ms(t))
        real = {s: bs[0] for s, bs in got.items() if bs}
        assert all(b.t == t for b in real.values()), iso_ny(t)
        minute = feed.fill(t, real, "backfill")
        sig = step.signals(minute)
        account = rest.get_account()
        positions = rest.get_positions()
        open_orders = rest.list_orders(status="open", limit=500)
        holdings = {
            p.symbol: Holding(int(round(p.signed_qty)), p.avg_entry_price)
            for p in positions
            if not is_flat(p.signed_qty)
        }
        res = step.decide(
            minute,
            sig,
            holdings=holdings,
            cash=account.cash,
            start_equity=account.last_equity,
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
                rest.cancel_order(o.id)
            plan = flatten_plan(
                strategy.name, t, signed_positions(positions), minute.closes, step.guard
            )
        else:
            for o in open_orders:
                if (o.symbol, o.side) in plan.cancels:
                    rest.cancel_order(o.id)
        for o in plan.orders:
            rest.submit_order(
                symbol=o.symbol, qty=o.qty, side=o.side, client_order_id=o.client_order_id
            )


def cost_args(costs: CostsConfig) -> list[str]:
    """mockmarket's cost options for ``costs`` (every knob given, defaults too)."""
    args: list[str] = []
    for knob, value in costs.model_dump().items():
        args += [option_name(knob), repr(value)]
    return args


@pytest.fixture
def http_replay(
    market: Market, tmp_path: Path
) -> Iterator[Callable[[StrategyConfig, date, int], HttpReplay]]:
    with ExitStack() as stack:
        count = 0

        def replay(cfg: StrategyConfig, day: date, warmup: int) -> HttpReplay:
            nonlocal count
            count += 1
            work = tmp_path / f"replay{count}"
            running = stack.enter_context(
                run_market(
                    work / "market",
                    synthetic=False,
                    data_dir=market.directory / "equities",
                    date=day.isoformat(),
                    start_time="09:20",
                    # the config's costs, one option per knob (named like the config keys)
                    extra_args=["--paused", *cost_args(cfg.costs)],
                )
            )
            rest = stack.enter_context(
                AlpacaRestClient(load_endpoints(None, running.env()), timeout=10.0)
            )

            def clock(t_ms: int) -> None:
                running.admin(
                    "POST",
                    "/admin/clock",
                    json={"action": "set_time", "time": from_ms(t_ms).isoformat()},
                )

            cal = nyse()
            session = cal.session(day)
            _replay(rest, clock, cfg, session, cal.sessions_before(day, warmup), work / "equities")
            clock(session.close_ms + MINUTE_MS)
            orders = rest.list_orders(
                status="all", limit=500, after=from_ms(session.open_ms - 3_600_000), direction="asc"
            )
            return HttpReplay(orders, rest.get_account(), signed_positions(rest.get_positions()))

        yield replay
