"""A scripted Alpaca-like HTTP server on 127.0.0.1 that fails in a chosen way per request.

``server.on(method, path, *replies, then=default)`` queues replies for a route; each
request consumes one, then ``then`` answers. A reply is a :class:`Json`, :class:`Raw`,
:class:`Drop` (close the connection without answering), :class:`Stall` (answer
nothing until the test ends, so the client times out) or a callable taking the
:class:`Seen` request and returning one of those. Every request is recorded.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from common.env import AlpacaEndpoints
from common.rest import AlpacaRestClient

KEY = "PKTESTKEY1234567890"
SECRET = "sEcReT-abcdefghijklmnop-0123456789"


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Json:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Raw:
    status: int
    text: str
    content_type: str = "text/html"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Drop:
    """Close the connection without a response."""


@dataclass
class Stall:
    """Hold the request unanswered until the server stops (the client times out)."""


Reply = Json | Raw | Drop | Stall | Callable[[Seen], "Json | Raw | Drop | Stall"]


def alpaca_error(status: int, message: str, code: int | None = None) -> Json:
    return Json(status, {"code": code if code is not None else status * 100000, "message": message})


NOT_FOUND = alpaca_error(404, "order not found", 40410000)


class ScriptedServer:
    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self._routes: dict[tuple[str, str], list[Reply]] = {}
        self._defaults: dict[tuple[str, str], Reply] = {}
        self._lock = threading.Lock()
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # headers and body go out in two writes: without this, Nagle's
                # algorithm and delayed ACKs add ~40 ms to every request
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, format: str, *args: Any) -> None:
                logging.getLogger("scripted").debug(format, *args)

            def _handle(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                split = urlsplit(self.path)
                seen = Seen(
                    self.command,
                    split.path,
                    dict(parse_qsl(split.query, keep_blank_values=True)),
                    {k: v for k, v in self.headers.items()},
                    json.loads(raw) if raw else None,
                )
                reply = server._next(seen)
                if callable(reply):
                    reply = reply(seen)
                if isinstance(reply, Stall):
                    server.release.wait(30)
                    reply = Drop()
                if isinstance(reply, Drop):
                    self.close_connection = True
                    with_socket_closed(self.connection)
                    return
                if isinstance(reply, Json):
                    data = b"" if reply.body is None else json.dumps(reply.body).encode()
                    ctype = "application/json"
                else:
                    data = reply.text.encode()
                    ctype = reply.content_type
                self.send_response(reply.status)
                if data:
                    self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                if data:
                    self.wfile.write(data)

            do_GET = do_POST = do_DELETE = do_PATCH = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        host, port = self.httpd.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def on(self, method: str, path: str, *replies: Reply, then: Reply | None = None) -> None:
        with self._lock:
            self._routes.setdefault((method, path), []).extend(replies)
            if then is not None:
                self._defaults[(method, path)] = then

    def _next(self, seen: Seen) -> Reply:
        key = (seen.method, seen.path)
        with self._lock:
            self.seen.append(seen)
            queue = self._routes.get(key)
            if queue:
                return queue.pop(0)
            default = self._defaults.get(key)
        if default is not None:
            return default
        return alpaca_error(404, f"unscripted route {seen.method} {seen.path}", 40410000)

    def requests(self, method: str | None = None, path: str | None = None) -> list[Seen]:
        with self._lock:
            return [
                s
                for s in self.seen
                if (method is None or s.method == method) and (path is None or s.path == path)
            ]

    def start(self) -> ScriptedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)


def with_socket_closed(conn: socket.socket) -> None:
    """Shut the socket down at once, so the client sees the connection dropped."""
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)


def order_json(body: dict, *, status: str = "accepted", order_id: str | None = None) -> dict:
    """An Alpaca order object (numbers as strings) for a submitted body."""
    ts = "2025-10-16T13:31:00.123456Z"
    return {
        "id": order_id or str(uuid.uuid4()),
        "client_order_id": body["client_order_id"],
        "created_at": ts,
        "updated_at": ts,
        "submitted_at": ts,
        "filled_at": None,
        "expired_at": None,
        "canceled_at": None,
        "failed_at": None,
        "asset_id": str(uuid.UUID(int=1)),
        "symbol": body["symbol"],
        "asset_class": "us_equity",
        "notional": None,
        "qty": str(body["qty"]),
        "filled_qty": "0",
        "filled_avg_price": None,
        "order_class": "",
        "order_type": body.get("type", "market"),
        "type": body.get("type", "market"),
        "side": body["side"],
        "time_in_force": body.get("time_in_force", "day"),
        "limit_price": body.get("limit_price"),
        "stop_price": None,
        "status": status,
        "extended_hours": False,
        "legs": None,
    }


class FakeOrderBook:
    """Orders by client_order_id, with the broker's duplicate rule, for the scripted server."""

    def __init__(self, server: ScriptedServer) -> None:
        self.server = server
        self.orders: dict[str, dict] = {}
        self._lock = threading.Lock()

    def accept(self, seen: Seen) -> Json:
        """Accept the POST /v2/orders body (422 on a duplicate client_order_id)."""
        coid = seen.body["client_order_id"]
        with self._lock:
            if coid in self.orders:
                return alpaca_error(422, "client_order_id must be unique", 40010001)
            order = order_json(seen.body)
            self.orders[coid] = order
        return Json(200, order)

    def accept_then(self, reply: Drop | Stall) -> Callable[[Seen], Drop | Stall]:
        """Accept the order, then lose the response."""

        def run(seen: Seen) -> Drop | Stall:
            self.accept(seen)
            return reply

        return run

    def by_client_id(self, seen: Seen) -> Json:
        order = self.orders.get(seen.query.get("client_order_id", ""))
        return NOT_FOUND if order is None else Json(200, order)

    def route(self, *post_replies: Reply) -> None:
        """Script POST /v2/orders (``post_replies`` first, then accept) and the lookup."""
        self.server.on("POST", "/v2/orders", *post_replies, then=self.accept)
        self.server.on("GET", "/v2/orders:by_client_order_id", then=self.by_client_id)


class Recorder:
    """Injected sleep and clock: sleeping advances the fake clock, never real time."""

    def __init__(self, start: float = 1_760_000_000.0) -> None:
        self.t = start
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.t += seconds

    def now(self) -> float:
        return self.t


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    s = ScriptedServer().start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def book(server: ScriptedServer) -> FakeOrderBook:
    return FakeOrderBook(server)


@pytest.fixture
def clock() -> Recorder:
    return Recorder()


@pytest.fixture
def make_client(
    server: ScriptedServer, clock: Recorder
) -> Iterator[Callable[..., AlpacaRestClient]]:
    import random

    made: list[AlpacaRestClient] = []

    def make(**kw: Any) -> AlpacaRestClient:
        endpoints = AlpacaEndpoints(
            key_id=KEY, secret=SECRET, trading_url=server.url, data_url=server.url
        )
        opts: dict[str, Any] = {
            "timeout": 2.0,
            "max_retries": 3,
            "sleep": clock.sleep,
            "now": clock.now,
            "rng": random.Random(7),
        }
        opts.update(kw)
        c = AlpacaRestClient(endpoints, **opts)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture
def wire() -> SimpleNamespace:
    """The helpers of this module, for test modules (importlib mode cannot import conftest)."""
    return SimpleNamespace(
        KEY=KEY,
        SECRET=SECRET,
        Json=Json,
        Raw=Raw,
        Drop=Drop,
        Stall=Stall,
        error=alpaca_error,
        order_json=order_json,
        ScriptedServer=ScriptedServer,
        Recorder=Recorder,
    )
