"""Fixtures for the market side of mockmarket: a small hand-made market and an in-process server.

The market: symbols AAA and BBB trade every minute, THIN misses every third minute,
on the sessions 2025-10-15 and 2025-10-16 (replayed), plus 2025-10-17 which the
store must never serve. The server runs the real app on a real loopback socket in a
background thread, so tests use plain ``requests`` and websocket clients.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
import requests
from aiohttp import web

from common.bars import Bar
from common.calendar import ny_datetime, nyse, to_ms
from common.csvfiles import history_path, write_history
from mockmarket.app import MarketOptions, build_app, build_context
from mockmarket.context import MarketContext
from mockmarket.store import MarketStore

SESSIONS = (date(2025, 10, 15), date(2025, 10, 16), date(2025, 10, 17))
REPLAY = date(2025, 10, 16)
SYMBOLS = ("AAA", "BBB", "THIN")
KEY = "unit-key"
SECRET = "unit-secret-value"


def make_bars(symbol: str, sessions=SESSIONS) -> list[Bar]:
    """Deterministic bars in cents; THIN has no bar on every third minute."""
    cal = nyse()
    base = {"AAA": 50.0, "BBB": 120.0, "THIN": 8.0}[symbol]
    out = []
    k = 0
    for d in sessions:
        for t in cal.session(d).minutes():
            k += 1
            if symbol == "THIN" and k % 3 == 0:
                continue
            o = round(base + (k % 37) * 0.01 + (k // 37) * 0.03, 2)
            c = round(o + ((k * 7) % 11 - 5) * 0.01, 2)
            h = round(max(o, c) + 0.02, 2)
            low = round(min(o, c) - 0.01, 2)
            out.append(Bar(symbol, t, o, h, low, c, float(100 + (k * 13) % 900)))
    return out


def write_market_csvs(directory: Path) -> Path:
    for s in SYMBOLS:
        write_history(history_path(directory, s), make_bars(s))
    return directory


@pytest.fixture(scope="session")
def market_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_market_csvs(tmp_path_factory.mktemp("market"))


@pytest.fixture(scope="session")
def store(market_dir: Path) -> MarketStore:
    return MarketStore.load(market_dir, REPLAY)


def ny_ms(d: date, hhmm: str) -> int:
    return to_ms(ny_datetime(d, hhmm))


@dataclass
class ServerThread:
    """The real market app on 127.0.0.1 in a background thread with its own event loop."""

    ctx: MarketContext
    base_url: str
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    runner: web.AppRunner
    headers: dict[str, str] = field(
        default_factory=lambda: {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
    )

    def __repr__(self) -> str:
        return f"ServerThread({self.base_url})"

    def _repr_pretty_(self, p, cycle) -> None:  # hypothesis prints fixtures with this
        p.text(repr(self))

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://") + "/v2/iex"

    def call(self, fn: Callable[[], object]) -> object:
        """Run ``fn`` on the server's loop thread and return its result."""

        async def run() -> object:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def get(self, path: str, **params: object) -> requests.Response:
        return requests.get(self.base_url + path, params=params, headers=self.headers, timeout=10)

    def admin(self, method: str, path: str, body: dict | None = None) -> dict:
        r = requests.request(
            method, self.base_url + path, json=body, headers=self.headers, timeout=10
        )
        assert r.status_code == 200, r.text
        return r.json()

    def step(self, seconds: float) -> dict:
        return self.admin("POST", "/admin/clock", {"action": "step", "seconds": seconds})

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def start_server(
    store: MarketStore, options: MarketOptions, *, minute_loop: bool = True
) -> ServerThread:
    loop = asyncio.new_event_loop()
    ready: dict = {}

    async def setup() -> None:
        ctx = build_context(store, options)
        runner = web.AppRunner(
            build_app(ctx, minute_loop=minute_loop), shutdown_timeout=2, access_log=None
        )
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        ready.update(ctx=ctx, runner=runner, port=runner.addresses[0][1])

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_forever()
        loop.close()

    thread = threading.Thread(target=run, name="mockmarket-test-server", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(setup(), loop).result(30)
    return ServerThread(
        ctx=ready["ctx"],
        base_url=f"http://127.0.0.1:{ready['port']}",
        loop=loop,
        thread=thread,
        runner=ready["runner"],
    )


def options(**kw: object) -> MarketOptions:
    """Paused at 10:00 New York, test keys, no corrections unless asked."""
    base: dict = {
        "key": KEY,
        "secret": SECRET,
        "start_time": "10:00",
        "paused": True,
        "correction_rate": 0.0,
    }
    base.update(kw)
    return MarketOptions(**base)


@pytest.fixture
def server_factory(store: MarketStore) -> Iterator[Callable[..., ServerThread]]:
    """``server_factory(**MarketOptions overrides)`` → a started server, stopped after the test."""
    started: list[ServerThread] = []

    def make(*, minute_loop: bool = True, **kw: object) -> ServerThread:
        s = start_server(store, options(**kw), minute_loop=minute_loop)
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()


@pytest.fixture
def server(server_factory: Callable[..., ServerThread]) -> ServerThread:
    """A paused market at 10:00 New York on the replay date."""
    return server_factory()


@dataclass(frozen=True)
class Facts:
    """What the tests know about the hand-made market (test modules cannot import conftest)."""

    sessions: tuple[date, ...] = SESSIONS
    replay: date = REPLAY
    symbols: tuple[str, ...] = SYMBOLS
    key: str = KEY
    secret: str = SECRET

    @staticmethod
    def ny_ms(d: date, hhmm: str) -> int:
        return ny_ms(d, hhmm)

    @staticmethod
    def csv_bars(symbol: str) -> list[Bar]:
        """The bars as written to the CSV (all sessions, including the one never served)."""
        return make_bars(symbol)

    @staticmethod
    def start_server(store: MarketStore, **kw: object) -> ServerThread:
        return start_server(store, options(**kw))


@pytest.fixture(scope="session")
def facts() -> Facts:
    return Facts()
