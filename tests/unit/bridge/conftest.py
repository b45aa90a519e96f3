"""A real local websockets server that plays Alpaca's market-data stream and fails on demand."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import date
from http import HTTPStatus

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from common.calendar import nyse, rfc3339_utc

KEY, SECRET = "PKTESTKEY123", "SECRETVALUE456"
DAY = date(2025, 10, 16)


def session_minute(i: int) -> int:
    """Bar start of minute ``i`` of the test session (0 = 09:30 ET)."""
    return nyse().session(DAY).open_ms + i * 60_000


def bar_msg(sym: str, t: int, close: float = 10.0, kind: str = "b", volume: int = 100) -> dict:
    return {"T": kind, "S": sym, "o": close, "h": close + 0.5, "l": close - 0.5, "c": close,
            "v": volume, "t": rfc3339_utc(t), "n": 3, "vw": close}


class FakeStream:
    """Each handshake takes the next plan: ok | silent | 402 | 406 | 429 | http404 | err500 | drop | mute.

    ``ok`` and ``silent`` authenticate and subscribe (``silent`` then never gets data);
    ``429`` is refused at the handshake; ``402``/``406`` are refused at auth;
    ``err500`` sends an error after subscribing; ``drop`` closes after subscribing;
    ``mute`` never sends the welcome. Plans run out → ``ok``.
    """

    def __init__(self, plans: list[str] | None = None) -> None:
        self.plans = list(plans or [])
        self.handshakes = 0
        self.connections: list[dict] = []
        self.active: ServerConnection | None = None
        self.subscribed = asyncio.Event()
        self.url = ""
        self._server = None
        self._plan_of: dict[int, str] = {}

    def _next_plan(self) -> str:
        return self.plans.pop(0) if self.plans else "ok"

    def process_request(self, connection: ServerConnection, request: object):
        self.handshakes += 1
        plan = self._next_plan()
        if plan == "429":
            return connection.respond(HTTPStatus.TOO_MANY_REQUESTS, "rate limit exceeded\n")
        if plan == "http404":
            return connection.respond(HTTPStatus.NOT_FOUND, "no such path\n")
        self._plan_of[id(connection)] = plan
        return None

    async def handler(self, ws: ServerConnection) -> None:
        plan = self._plan_of.pop(id(ws), "ok")
        record: dict = {"plan": plan, "auth": None, "subscribe": None}
        self.connections.append(record)
        try:
            if plan == "mute":
                await ws.wait_closed()
                return
            await ws.send(json.dumps([{"T": "success", "msg": "connected"}]))
            record["auth"] = json.loads(await ws.recv())
            if plan in ("402", "406"):
                msg = "auth failed" if plan == "402" else "connection limit exceeded"
                await ws.send(json.dumps([{"T": "error", "code": int(plan), "msg": msg}]))
                await ws.close()
                return
            await ws.send(json.dumps([{"T": "success", "msg": "authenticated"}]))
            record["subscribe"] = json.loads(await ws.recv())
            sub = record["subscribe"]
            await ws.send(json.dumps([{"T": "subscription", "trades": [], "quotes": [],
                                       "bars": sub.get("bars", []), "updatedBars": sub.get("updatedBars", []),
                                       "dailyBars": [], "statuses": [], "lulds": [], "corrections": [],
                                       "cancelErrors": []}]))
            if plan == "err500":
                await ws.send(json.dumps([{"T": "error", "code": 500, "msg": "internal error"}]))
            elif plan == "drop":
                await ws.close()
                return
            elif plan == "ok":
                self.active = ws
            self.subscribed.set()
            await ws.wait_closed()
        except ConnectionClosed:
            pass
        finally:
            if self.active is ws:
                self.active = None

    async def send(self, messages: list[dict]) -> None:
        assert self.active is not None, "no subscribed ok connection"
        await self.active.send(json.dumps(messages))

    async def __aenter__(self) -> FakeStream:
        self._server = await serve(self.handler, "127.0.0.1", 0, process_request=self.process_request)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/v2/iex"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


async def wait_for(cond: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    """Poll ``cond`` until true (fails the test after ``timeout`` seconds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


@pytest.fixture
def fifo_path(tmp_path):
    return tmp_path / "bars.fifo"


@pytest.fixture
def kit():
    """The helpers above, for tests (conftest modules cannot be imported under importlib mode)."""
    from types import SimpleNamespace

    return SimpleNamespace(FakeStream=FakeStream, bar_msg=bar_msg, minute=session_minute,
                           wait_for=wait_for, KEY=KEY, SECRET=SECRET, DAY=DAY)
