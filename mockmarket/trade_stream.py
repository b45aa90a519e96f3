"""The trade-updates websocket ``/stream`` (alpaca-protocol.md §6).

No welcome message. The client authenticates with
``{"action":"authenticate","data":{"key_id":K,"secret_key":S}}`` and gets
``{"stream":"authorization","data":{"status":"authorized","action":"authenticate"}}``
(``"unauthorized"``, then the socket closes, on bad keys); then
``{"action":"listen","data":{"streams":["trade_updates"]}}`` → ``{"stream":"listening",...}``
and trade updates follow. Like Alpaca's paper stream, every server message is a
BINARY frame of JSON (alpaca-py's TradingStream ``json.loads`` text or bytes
alike); the client may send text or binary. A message that cannot be understood
gets ``{"stream":"error","data":{"code":400,"message":...}}``, never a crash.

Faults (:mod:`mockmarket.faults`, set through ``POST /admin/faults``):
``drop_trade_streams`` closes every connection open now (events not yet sent are lost,
as in a network drop), and ``trade_stream_refuse_seconds`` answers the handshakes of the
following simulated seconds with HTTP 503, so a client has to come back later.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import weakref

from aiohttp import WSCloseCode, WSMsgType, web

from mockmarket.broker import PaperBroker
from mockmarket.counters import Counters
from mockmarket.http_errors import alpaca_error
from mockmarket.trade_updates import Subscription, TradeUpdateHub

log = logging.getLogger(__name__)

STREAMS = ("trade_updates",)
MAX_MESSAGE_BYTES = 64 * 1024
POLICY_VIOLATION = 1008


def _frame(stream: str, data: dict) -> bytes:
    return json.dumps({"stream": stream, "data": data}, separators=(",", ":")).encode()


def _same(given: object, expected: str) -> bool:
    if not isinstance(given, str):
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode())


class TradeStreamSession:
    """One connection's protocol state: authentication, what it listens to, its outbox."""

    def __init__(self, hub: TradeUpdateHub, key: str, secret: str) -> None:
        self._hub = hub
        self._key = key
        self._secret = secret
        self.outbox: Subscription = hub.new_subscription()
        self.authorized = False
        self.listening = False

    def _send(self, stream: str, data: dict) -> None:
        self.outbox.offer(_frame(stream, data))

    def _error(self, message: str) -> None:
        self._send("error", {"code": 400, "message": message})

    def _refuse(self, action: str) -> None:
        self._send("authorization", {"status": "unauthorized", "action": action})
        self.outbox.offer(None)

    def handle(self, raw: str | bytes) -> None:
        """React to one client message; never raises on bad input."""
        try:
            msg = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            self._error("invalid syntax: not a JSON message")
            return
        if not isinstance(msg, dict):
            self._error("invalid syntax: a message must be a JSON object")
            return
        action, data = msg.get("action"), msg.get("data")
        if action == "authenticate":
            self._authenticate(data)
        elif action == "listen":
            self._listen(data)
        else:
            self._error(f"unknown action {action!r}: expected authenticate or listen")

    def _authenticate(self, data: object) -> None:
        if not isinstance(data, dict):
            self._refuse("authenticate")
            return
        ok_key = _same(data.get("key_id"), self._key)
        ok_secret = _same(data.get("secret_key"), self._secret)
        if not (ok_key and ok_secret):
            log.info("trade stream: authentication refused")
            self._refuse("authenticate")
            return
        self.authorized = True
        self._send("authorization", {"status": "authorized", "action": "authenticate"})

    def _listen(self, data: object) -> None:
        if not self.authorized:
            self._refuse("listen")
            return
        streams = data.get("streams") if isinstance(data, dict) else None
        if not isinstance(streams, list) or not all(isinstance(s, str) for s in streams):
            self._error('listen needs {"data": {"streams": [...]}} with a list of stream names')
            return
        wanted = [s for s in STREAMS if s in streams]
        if wanted:
            self._hub.subscribe(self.outbox)
        else:
            self._hub.unsubscribe(self.outbox)
        self.listening = bool(wanted)
        self._send("listening", {"streams": wanted})

    def close(self) -> None:
        self._hub.close_subscription(self.outbox)


async def _write(ws: web.WebSocketResponse, outbox: Subscription) -> None:
    """The connection's only writer: frames in order; ``None`` or an overflow closes."""
    while True:
        frame = await outbox.queue.get()
        if outbox.dropped:
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"dropped (fault)")
            return
        if frame is None:
            await ws.close(code=POLICY_VIOLATION, message=b"unauthorized")
            return
        await ws.send_bytes(frame)
        if outbox.overflowed:
            log.warning("trade stream: client too slow, dropping it")
            await ws.close(code=POLICY_VIOLATION, message=b"slow client")
            return


def apply_trade_stream_faults(broker: PaperBroker, counters: Counters) -> None:
    """Act on the one-shot fault ``drop_trade_streams``: close every connection now."""
    if broker.faults.drop_trade_streams:
        broker.faults.drop_trade_streams = False
        n = broker.updates.drop_all(broker.clock.now_ms())
        counters.trade_connections_dropped += n
        log.info("fault: %d trade-updates connection(s) dropped", n)


def _refusing(broker: PaperBroker) -> bool:
    window_ms = broker.faults.trade_stream_refuse_seconds * 1000
    dropped = broker.updates.dropped_at_ms
    return window_ms > 0 and dropped is not None and broker.clock.now_ms() < dropped + window_ms


def add_trade_stream_routes(
    app: web.Application, broker: PaperBroker, key: str, secret: str, counters: Counters
) -> None:
    """GET /stream and /stream/: the trade_updates websocket."""
    sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()

    async def stream(request: web.Request) -> web.StreamResponse:
        if _refusing(broker):
            counters.trade_handshakes_refused += 1
            return alpaca_error(503, "trade updates unavailable (fault): try again later")
        ws = web.WebSocketResponse(autoping=True, max_msg_size=MAX_MESSAGE_BYTES)
        await ws.prepare(request)
        sockets.add(ws)
        counters.trade_connections_total += 1
        counters.trade_connections_open += 1
        session = TradeStreamSession(broker.updates, key, secret)
        writer = asyncio.create_task(_write(ws, session.outbox), name="trade-stream-writer")
        try:
            async for msg in ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    session.handle(msg.data)
                elif msg.type == WSMsgType.ERROR:
                    log.info("trade stream: connection error %s", ws.exception())
                    break
                if writer.done():
                    break
        finally:
            session.close()
            counters.trade_connections_open -= 1
            writer.cancel()
            try:
                await writer
            except asyncio.CancelledError:
                pass
            except Exception as e:  # the client went away mid-frame: nothing left to tell it
                log.info("trade stream: writer stopped: %r", e)
            if not ws.closed:
                await ws.close()
        return ws

    async def close_all(app: web.Application) -> None:
        for ws in list(sockets):
            with contextlib.suppress(Exception):
                await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")

    app.router.add_get("/stream", stream)
    app.router.add_get("/stream/", stream)
    app.on_shutdown.append(close_all)
