"""The market-data websocket ``/v2/iex``, ``/v2/sip``, ``/v2/test`` (alpaca-protocol.md §5).

Protocol: the server greets ``[{"T":"success","msg":"connected"}]``; the client
authenticates (``{"action":"auth","key","secret"}``), then subscribes or
unsubscribes by channel (``bars``, ``updatedBars``, ``trades``, ``quotes``,
``dailyBars``, ``statuses``, ``lulds``; ``"*"`` = every symbol). The minute loop
calls :meth:`DataStreamHub.publish` with each minute's bars; only ``bars`` and
``updatedBars`` ever carry data here.

Frames are JSON text, or msgpack binary when the handshake has
``Content-Type: application/msgpack`` (alpaca-py); then a bar's ``t`` is a msgpack
Timestamp. Client messages may come as text (JSON) or binary (msgpack) either way.

Errors are ``[{"T":"error","code":N,"msg":...}]`` and never end the server: 400
invalid syntax, 401 not authenticated, 402 auth failed, 403 already authenticated,
404 auth timeout, 405 symbol limit exceeded, 406 connection limit exceeded,
407 slow client. After 402, 404, 406 and 407 the server closes the socket.

Each connection has a writer task fed by a bounded queue, so one slow client
never holds up the publisher or the others. Faults: ``handshake_429_count``,
``connection_limit_seconds``, ``silent_count``, ``silence_open``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

import msgpack
from aiohttp import WSMsgType, web

from common.bars import Bar
from mockmarket.clock import SimClock
from mockmarket.counters import Counters
from mockmarket.faults import Faults
from mockmarket.http_errors import alpaca_error
from mockmarket.wire import json_array, msgpack_array, stream_bar_msgpack, stream_bar_text

log = logging.getLogger(__name__)

CHANNELS = ("trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds")
"""Channels a client may subscribe to (corrections and cancelErrors follow trades)."""
DATA_PATHS = ("/v2/iex", "/v2/sip", "/v2/test")
MSGPACK = "application/msgpack"
MAX_MESSAGE_BYTES = 1 << 20
MAX_FRAME_ITEMS = 2000
"""Bars per frame at most, so frames stay far below 1 MiB."""
QUEUE_FRAMES = 4096
"""Frames queued for one client before it is dropped as a slow client (407)."""
MAX_SYMBOL_LENGTH = 32

ERRORS = {
    400: "invalid syntax",
    401: "not authenticated",
    402: "auth failed",
    403: "already authenticated",
    404: "auth timeout",
    405: "symbol limit exceeded",
    406: "connection limit exceeded",
    407: "slow client",
    500: "internal error",
}
CLOSING_ERRORS = frozenset({402, 404, 406, 407})


class ProtocolError(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(ERRORS[code])
        self.code = code


def error_message(code: int) -> dict:
    return {"T": "error", "code": code, "msg": ERRORS[code]}


class DataConnection:
    """One client socket: its encoding, auth state, subscriptions and outgoing queue."""

    def __init__(self, ws: web.WebSocketResponse, use_msgpack: bool, counters: Counters) -> None:
        self.ws = ws
        self.use_msgpack = use_msgpack
        self.counters = counters
        self.authenticated = False
        self.silent = False
        self.subs: dict[str, set[str]] = {ch: set() for ch in CHANNELS}
        self._queue: asyncio.Queue[tuple[str | bytes, int] | None] = asyncio.Queue(QUEUE_FRAMES)
        self._closing = False
        self._writer = asyncio.create_task(self._write())

    # -- outgoing
    def encode(self, messages: list[dict]) -> str | bytes:
        return (
            msgpack.packb(messages)
            if self.use_msgpack
            else json.dumps(messages, separators=(",", ":"))
        )

    def send(self, messages: list[dict]) -> None:
        self.enqueue(self.encode(messages))

    def enqueue(self, frame: str | bytes, n_bars: int = 0) -> None:
        if self._closing:
            return
        try:
            self._queue.put_nowait((frame, n_bars))
        except asyncio.QueueFull:
            log.warning(
                "data stream: client too slow (%d frames queued), dropping it", QUEUE_FRAMES
            )
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait((self.encode([error_message(407)]), 0))
            self.close_soon()

    def close_soon(self) -> None:
        """Send what is queued, then close the socket."""
        if not self._closing:
            self._closing = True
            self._queue.put_nowait(None)

    async def _write(self) -> None:
        try:
            while True:
                item = await self._queue.get()
                if item is None:
                    break
                frame, n_bars = item
                if self.ws.closed:
                    break
                if isinstance(frame, bytes):
                    await self.ws.send_bytes(frame)
                else:
                    await self.ws.send_str(frame)
                self.counters.bars_sent += n_bars
        except (ConnectionError, RuntimeError) as e:
            log.info("data stream: send failed (%s), client gone", e)
        finally:
            if not self.ws.closed:
                with contextlib.suppress(Exception):
                    await self.ws.close()

    async def finish(self, timeout: float = 5.0) -> None:
        """Flush and close (bounded wait), then stop the writer."""
        self.close_soon()
        try:
            await asyncio.wait_for(asyncio.shield(self._writer), timeout)
        except (TimeoutError, asyncio.CancelledError):
            self._writer.cancel()
        if not self.ws.closed:
            with contextlib.suppress(Exception):
                await self.ws.close()

    def info(self) -> dict:
        """What the admin API shows of this connection."""
        return {
            "authenticated": self.authenticated,
            "msgpack": self.use_msgpack,
            "silent": self.silent,
            "subscriptions": {ch: sorted(self.subs[ch]) for ch in CHANNELS},
        }

    # -- subscriptions
    def wants(self, channel: str, symbol: str) -> bool:
        subs = self.subs[channel]
        return symbol in subs or "*" in subs

    def subscription_message(self) -> dict:
        msg: dict[str, Any] = {"T": "subscription"}
        for ch in CHANNELS:
            msg[ch] = sorted(self.subs[ch])
        msg["corrections"] = sorted(self.subs["trades"])
        msg["cancelErrors"] = sorted(self.subs["trades"])
        return msg


def _decode(msg: Any) -> Any:
    if msg.type == WSMsgType.TEXT:
        return json.loads(msg.data)
    return msgpack.unpackb(msg.data, raw=False, strict_map_key=False)


def _channel_symbols(message: dict) -> dict[str, list[str]]:
    """``{channel: [symbols]}`` of a (un)subscribe message; ProtocolError(400) if malformed."""
    out: dict[str, list[str]] = {}
    for ch in CHANNELS:
        value = message.get(ch)
        if value is None:
            continue
        if not isinstance(value, list):
            raise ProtocolError(400)
        for s in value:
            if not isinstance(s, str) or not 0 < len(s) <= MAX_SYMBOL_LENGTH:
                raise ProtocolError(400)
        out[ch] = value
    return out


class DataStreamHub:
    """Every data-stream connection of one server, and the publisher that feeds them."""

    def __init__(
        self,
        clock: SimClock,
        faults: Faults,
        counters: Counters,
        keys_match: Callable[[object, object], bool],
        *,
        max_connections: int = 1,
        symbol_limit: int = 200,
        auth_timeout_s: float = 10.0,
    ) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections={max_connections} must be >= 1")
        self.clock = clock
        self.faults = faults
        self.counters = counters
        self.keys_match = keys_match
        self.max_connections = max_connections
        self.symbol_limit = symbol_limit
        self.auth_timeout_s = auth_timeout_s
        self.connections: set[DataConnection] = set()
        self.last_disconnect_ms: int | None = None
        """Sim time an authenticated client last went away (for ``connection_limit_seconds``)."""

    # -- faults
    def apply_faults(self) -> None:
        """Act on one-shot faults: ``silence_open`` silences every connection open now."""
        if self.faults.silence_open:
            self.faults.silence_open = False
            for conn in self.connections:
                conn.silent = True
            log.info("fault: %d open data connection(s) silenced", len(self.connections))

    def _connection_limited(self) -> bool:
        authed = sum(1 for c in self.connections if c.authenticated)
        if authed >= self.max_connections:
            return True
        window_ms = self.faults.connection_limit_seconds * 1000
        if window_ms > 0 and self.last_disconnect_ms is not None:
            return self.clock.now_ms() < self.last_disconnect_ms + window_ms
        return False

    # -- one connection
    async def serve(self, request: web.Request) -> web.StreamResponse:
        if self.faults.take("handshake_429_count"):
            self.counters.handshake_429 += 1
            log.info("fault: websocket handshake answered 429")
            return alpaca_error(429, "rate limit exceeded")
        ws = web.WebSocketResponse(autoping=True, max_msg_size=MAX_MESSAGE_BYTES)
        if not ws.can_prepare(request).ok:
            return alpaca_error(400, f"{request.path} is a websocket: send an upgrade request")
        await ws.prepare(request)
        use_msgpack = (
            request.headers.get("Content-Type", "").split(";")[0].strip().lower() == MSGPACK
        )
        conn = DataConnection(ws, use_msgpack, self.counters)
        self.connections.add(conn)
        self.counters.data_connections_total += 1
        self.counters.data_connections_open += 1
        log.info(
            "data stream: client connected on %s (%s)",
            request.path,
            "msgpack" if use_msgpack else "json",
        )
        try:
            conn.send([{"T": "success", "msg": "connected"}])
            await self._read_loop(conn)
        finally:
            self.connections.discard(conn)
            self.counters.data_connections_open -= 1
            if conn.authenticated:
                self.last_disconnect_ms = self.clock.now_ms()
            await conn.finish()
            log.info("data stream: client disconnected")
        return ws

    async def _read_loop(self, conn: DataConnection) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.auth_timeout_s
        while not conn.ws.closed:
            timeout = None if conn.authenticated else deadline - loop.time()
            try:
                if timeout is not None and timeout <= 0:
                    raise TimeoutError
                msg = await conn.ws.receive(timeout=timeout)
            except TimeoutError:
                conn.send([error_message(404)])
                return
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                return
            if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                continue
            try:
                try:
                    message = _decode(msg)
                except Exception:
                    raise ProtocolError(400) from None
                reply = self._handle(conn, message)
            except ProtocolError as e:
                conn.send([error_message(e.code)])
                if e.code in CLOSING_ERRORS:
                    return
                continue
            except Exception:
                log.exception("data stream: error handling a client message")
                conn.send([error_message(500)])
                continue
            conn.send(reply)

    def _handle(self, conn: DataConnection, message: Any) -> list[dict]:
        if not isinstance(message, dict):
            raise ProtocolError(400)
        action = message.get("action")
        if action == "auth":
            return self._auth(conn, message)
        if action in ("subscribe", "unsubscribe"):
            if not conn.authenticated:
                raise ProtocolError(401)
            channels = _channel_symbols(message)
            if action == "subscribe":
                wanted = set().union(*(conn.subs[ch] for ch in CHANNELS), *channels.values())
                if len(wanted - {"*"}) > self.symbol_limit:
                    raise ProtocolError(405)
                for ch, symbols in channels.items():
                    conn.subs[ch].update(symbols)
            else:
                for ch, symbols in channels.items():
                    conn.subs[ch].difference_update(symbols)
            return [conn.subscription_message()]
        raise ProtocolError(400)

    def _auth(self, conn: DataConnection, message: dict) -> list[dict]:
        if conn.authenticated:
            raise ProtocolError(403)
        if not self.keys_match(message.get("key"), message.get("secret")):
            log.info("data stream: auth failed")
            raise ProtocolError(402)
        if self._connection_limited():
            self.counters.data_auth_406 += 1
            log.info("data stream: auth refused, connection limit (406)")
            raise ProtocolError(406)
        conn.authenticated = True
        if self.faults.take("silent_count"):
            conn.silent = True
            log.info("fault: this data connection will be silent")
        return [{"T": "success", "msg": "authenticated"}]

    # -- publishing
    def publish(self, bars: list[Bar], kind: str = "b") -> int:
        """Queue ``bars`` (``T`` = ``kind``: "b" bars, "u" updatedBars) for every subscriber.

        Returns the number of bar messages queued.
        """
        self.apply_faults()
        if not bars:
            return 0
        channel = "bars" if kind == "b" else "updatedBars"
        encoded: dict[tuple[bool, str], Any] = {}  # each bar encoded once per form

        def encode(bar: Bar, as_msgpack: bool) -> Any:
            key = (as_msgpack, bar.symbol)
            if key not in encoded:
                encoded[key] = (
                    stream_bar_msgpack(bar, kind) if as_msgpack else stream_bar_text(bar, kind)
                )
            return encoded[key]

        queued = 0
        for conn in list(self.connections):
            if not conn.authenticated or conn.silent:
                continue
            chosen = [b for b in bars if conn.wants(channel, b.symbol)]
            for i in range(0, len(chosen), MAX_FRAME_ITEMS):
                items = [encode(b, conn.use_msgpack) for b in chosen[i : i + MAX_FRAME_ITEMS]]
                frame = msgpack_array(items) if conn.use_msgpack else json_array(items)
                conn.enqueue(frame, len(items))
                queued += len(items)
        return queued

    async def close_all(self) -> None:
        """Close every connection (server shutdown)."""
        for conn in list(self.connections):
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001, message=b"server shutdown")


def add_data_stream_routes(app: web.Application, hub: DataStreamHub) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return await hub.serve(request)

    async def on_shutdown(_: web.Application) -> None:
        await hub.close_all()

    for path in DATA_PATHS:
        app.router.add_get(path, handler)
    app.on_shutdown.append(on_shutdown)
