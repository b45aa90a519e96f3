"""Build one mockmarket server: its shared objects and the aiohttp Application on one port.

``build_context(store, options)`` makes the clock, faults, counters, paper broker
and data-stream hub; ``build_app(ctx)`` wires every route (market data, clock,
admin, the broker's trading REST, both websockets), the middlewares and the
minute loop, which runs as long as the app does.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from aiohttp import web

from common.calendar import TradingCalendar, ny_datetime, to_ms
from ledger.costs import CostModel
from mockmarket.admin_routes import add_admin_routes
from mockmarket.auth import auth_middleware, error_middleware
from mockmarket.broker import PaperBroker
from mockmarket.clock import SimClock
from mockmarket.clock_routes import add_clock_routes
from mockmarket.context import CTX, MarketContext, keys_equal
from mockmarket.corrections import CorrectionPolicy
from mockmarket.counters import Counters
from mockmarket.data_routes import add_data_routes
from mockmarket.data_stream import DataStreamHub, add_data_stream_routes
from mockmarket.faults import Faults
from mockmarket.minute_loop import MinuteLoop
from mockmarket.store import MarketStore
from mockmarket.trade_stream import add_trade_stream_routes
from mockmarket.trading_routes import add_trading_routes

DEFAULT_KEY = "mock-key"
DEFAULT_SECRET = "mock-secret"
DEFAULT_START = "09:25"
MAX_BODY_BYTES = 1 << 20
LOOP = web.AppKey("mockmarket_minute_loop", MinuteLoop)


@dataclass(frozen=True)
class MarketOptions:
    """Everything about one server that is not its data."""

    key: str = DEFAULT_KEY
    secret: str = field(default=DEFAULT_SECRET, repr=False)
    start_time: str = DEFAULT_START
    """New York time of the replay date at which the clock starts (HH:MM)."""
    speed: float = 1.0
    paused: bool = False
    seed: int = 0
    correction_rate: float = 0.02
    costs: CostModel = field(default_factory=CostModel.default)
    """What fills cost (``CostModel.legacy()`` for the pre-cost fill rule)."""
    partial_fill_rate: float = 0.0
    cash: float = 100_000.0
    max_connections: int = 1
    symbol_limit: int = 200
    auth_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not self.key or not self.secret:
            raise ValueError("the market needs a non-empty key and secret")
        if not self.speed > 0:
            raise ValueError(f"speed={self.speed!r} must be > 0")
        if self.max_connections < 1:
            raise ValueError(f"max_connections={self.max_connections!r} must be >= 1")
        if not 0.0 <= self.partial_fill_rate <= 1.0:
            raise ValueError(f"partial_fill_rate={self.partial_fill_rate!r} must be within [0, 1]")
        if not isinstance(self.costs, CostModel):
            raise ValueError(f"costs={self.costs!r} must be a ledger.costs.CostModel")
        parse_hhmm(self.start_time)


def parse_hhmm(text: str) -> str:
    """Validate 'HH:MM' (00:00..23:59); returns it normalized."""
    try:
        h, m = text.split(":")
        hh, mm = int(h), int(m)
    except ValueError:
        raise ValueError(f"start time {text!r} is not HH:MM") from None
    if not (0 <= hh <= 23 and 0 <= mm <= 59):
        raise ValueError(f"start time {text!r} is not a time of day HH:MM")
    return f"{hh:02d}:{mm:02d}"


def build_context(
    store: MarketStore,
    options: MarketOptions,
    *,
    calendar: TradingCalendar | None = None,
    real: Callable[[], float] = time.monotonic,
) -> MarketContext:
    cal = calendar or store.calendar
    start_ms = to_ms(ny_datetime(store.replay_date, parse_hhmm(options.start_time)))
    clock = SimClock(start_ms, options.speed, paused=options.paused, real=real)
    faults = Faults(partial_fill_rate=options.partial_fill_rate)
    counters = Counters()
    broker = PaperBroker(
        clock,
        store,
        faults,
        counters,
        calendar=cal,
        cash=options.cash,
        costs=options.costs,
        seed=options.seed,
    )
    hub = DataStreamHub(
        clock,
        faults,
        counters,
        functools.partial(keys_equal, expected_key=options.key, expected_secret=options.secret),
        max_connections=options.max_connections,
        symbol_limit=options.symbol_limit,
        auth_timeout_s=options.auth_timeout_s,
    )
    return MarketContext(
        clock=clock,
        store=store,
        faults=faults,
        counters=counters,
        calendar=cal,
        key=options.key,
        secret=options.secret,
        broker=broker,
        stream=hub,
        corrections=CorrectionPolicy(options.correction_rate, options.seed),
    )


async def _minute_loop(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(app[LOOP].run(), name="mockmarket-minute-loop")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def build_app(ctx: MarketContext, *, minute_loop: bool = True) -> web.Application:
    """The whole market on one Application. ``minute_loop=False`` leaves minutes to the caller."""
    app = web.Application(
        middlewares=[error_middleware, auth_middleware], client_max_size=MAX_BODY_BYTES
    )
    app[CTX] = ctx
    add_data_routes(app, ctx.store)
    add_clock_routes(app)
    add_admin_routes(app)
    add_data_stream_routes(app, ctx.stream)
    add_trading_routes(app, ctx.broker)
    add_trade_stream_routes(app, ctx.broker, ctx.key, ctx.secret, ctx.counters)
    app[LOOP] = MinuteLoop(ctx.clock, ctx.store, ctx.broker, ctx.stream, ctx.corrections)
    if minute_loop:
        app.cleanup_ctx.append(_minute_loop)
    return app
