"""A real mockmarket server (the whole app: auth middleware, every route) on a real socket.

It runs in a thread with its own event loop. By default the clock is paused and
the minute loop is off: tests move the simulated clock and call
``broker.on_minute`` themselves, on the server's loop (``server.call``), so every
step is deterministic. ``ServerThread(minute_loop=True, paused=False, speed=X)``
runs the real minute loop instead. Fills follow the pre-cost rule (``CostModel.legacy()``:
at the bars' own prices) unless a test passes ``costs=``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
import requests
from aiohttp import web

from common.bars import Bar
from common.calendar import Session, nyse
from ledger.costs import CostModel
from mockmarket.app import MarketOptions, build_app, build_context
from mockmarket.context import MarketContext
from mockmarket.store import MarketStore

DAY = date(2024, 3, 12)
KEY, SECRET = "test-key", "test-secret"
SYMBOLS = ("AAA", "BBB")


def _bars(session: Session, symbol: str, base: float) -> list[Bar]:
    """A gentle deterministic walk in whole cents; each minute's open is the last close."""
    out, price = [], base
    for i, t in enumerate(session.minutes()):
        step = ((i * 7919) % 13 - 6) / 100
        close = round(price + step, 2)
        out.append(
            Bar(symbol, t, price, max(price, close) + 0.05, min(price, close) - 0.05, close, 1000.0)
        )
        price = close
    return out


def build_store() -> MarketStore:
    cal = nyse()
    sessions = [cal.previous_session(DAY), cal.session(DAY)]
    bars = {
        sym: [b for s in sessions for b in _bars(s, sym, base)]
        for sym, base in zip(SYMBOLS, (50.0, 20.0), strict=True)
    }
    return MarketStore(bars, DAY, calendar=cal)


class ServerThread:
    def __init__(
        self, start_time: str = "10:00", *, minute_loop: bool = False, **options: Any
    ) -> None:
        options.setdefault("paused", True)
        # the tests' expected prices are the bars' own: the pre-cost fill rule unless asked
        options.setdefault("costs", CostModel.legacy())
        self._options = MarketOptions(key=KEY, secret=SECRET, start_time=start_time, **options)
        self._minute_loop = minute_loop
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._error: BaseException | None = None
        self.ctx: MarketContext | None = None
        self.port = 0
        self._thread = threading.Thread(
            target=self._run, name="mockmarket-test-server", daemon=True
        )

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._start())
        except BaseException as e:  # reported to the test thread
            self._error = e
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self._runner.cleanup())
        loop.close()

    async def _start(self) -> None:
        self.ctx = build_context(build_store(), self._options)
        app = build_app(self.ctx, minute_loop=self._minute_loop)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def start(self) -> ServerThread:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stream_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/stream"

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` on the server's loop (the broker is not thread-safe) and return it."""

        async def job() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(job(), self._loop).result(10)

    def minute(self, m: int) -> None:
        """Move the clock to minute ``m`` and run the broker's minute step."""

        def step() -> None:
            self.ctx.clock.set_time(m)
            self.ctx.broker.on_minute(m)

        self.call(step)

    def set_faults(self, **values: Any) -> None:
        self.call(self.ctx.faults.update, values)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Poll a condition (evaluated on the server's loop) until it holds."""
        deadline = time.monotonic() + timeout
        while not self.call(predicate):
            if time.monotonic() > deadline:
                raise TimeoutError("condition not reached in time")
            time.sleep(0.01)


@pytest.fixture
def server() -> Iterator[ServerThread]:
    srv = ServerThread().start()
    yield srv
    srv.stop()


@pytest.fixture
def server_factory() -> Iterator[Callable[..., ServerThread]]:
    """``server_factory(start_time, minute_loop=..., speed=..., paused=...)``, stopped at teardown."""
    started: list[ServerThread] = []

    def make(*args: Any, **kw: Any) -> ServerThread:
        srv = ServerThread(*args, **kw).start()
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()


@pytest.fixture
def api(server: ServerThread) -> requests.Session:
    s = requests.Session()
    s.headers.update({"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET})
    s.base = server.base_url  # type: ignore[attr-defined]
    yield s
    s.close()


@pytest.fixture
def session() -> Session:
    return nyse().session(DAY)


@pytest.fixture
def keys() -> tuple[str, str]:
    return KEY, SECRET

